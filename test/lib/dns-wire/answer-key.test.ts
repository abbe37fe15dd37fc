import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerKey } from '../../../src/lib/dns-wire/answer-key.js';

const name = (n: string): number[] => [
  ...n
    .split('.')
    .filter(Boolean)
    .flatMap((l) => [l.length, ...Buffer.from(l)]),
  0,
];

/** A response: ID, flags, one question, answers with the owner as a pointer to the question (0xc00c), then an OPT record. */
function response(id: number, q: string, answers: Array<[number, number, number[]]>, opts: { flags?: number; opt?: boolean } = {}): Uint8Array {
  const out = [id >> 8, id & 0xff, (opts.flags ?? 0x8180) >> 8, (opts.flags ?? 0x8180) & 0xff, 0, 1, 0, answers.length, 0, 0, 0, opts.opt === false ? 0 : 1, ...name(q), 0, 1, 0, 1];
  for (const [type, ttl, rd] of answers) out.push(0xc0, 12, 0, type, 0, 1, ttl >>> 24, (ttl >>> 16) & 255, (ttl >>> 8) & 255, ttl & 255, 0, rd.length, ...rd);
  if (opts.opt !== false) out.push(0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0);
  return new Uint8Array(out);
}

test('answerKey: the same question and answer records give the same key whatever the ID, flags, TTLs and what follows the answers', () => {
  const a = answerKey(
    response(1, 'www.example.com', [
      [1, 300, [31, 0, 113, 5]],
      [1, 300, [31, 0, 113, 6]],
    ]),
    512,
  );
  assert.ok(a !== undefined);
  assert.equal(
    answerKey(
      response(
        2,
        'www.example.com',
        [
          [1, 17, [31, 0, 113, 5]],
          [1, 4000, [31, 0, 113, 6]],
        ],
        { flags: 0x81a0, opt: false },
      ),
      512,
    ),
    a,
  );
  assert.equal(
    answerKey(
      Buffer.from(
        response(3, 'www.example.com', [
          [1, 1, [31, 0, 113, 5]],
          [1, 1, [31, 0, 113, 6]],
        ]),
      ),
      512,
    ),
    a,
    'a Buffer or a Uint8Array alike',
  );
});

test('answerKey: another address, type, order, record count or question is another key', () => {
  const base = answerKey(
    response(1, 'www.example.com', [
      [1, 300, [31, 0, 113, 5]],
      [1, 300, [31, 0, 113, 6]],
    ]),
    512,
  );
  const others = [
    response(1, 'www.example.com', [
      [1, 300, [31, 0, 113, 5]],
      [1, 300, [31, 0, 113, 7]],
    ]),
    response(1, 'www.example.com', [
      [1, 300, [31, 0, 113, 6]],
      [1, 300, [31, 0, 113, 5]],
    ]),
    response(1, 'www.example.com', [[1, 300, [31, 0, 113, 5]]]),
    response(1, 'www.example.org', [
      [1, 300, [31, 0, 113, 5]],
      [1, 300, [31, 0, 113, 6]],
    ]),
    response(1, 'www.example.com', [
      [16, 300, [31, 0, 113, 5]],
      [1, 300, [31, 0, 113, 6]],
    ]),
  ];
  const keys = others.map((m) => answerKey(m, 512));
  assert.ok(keys.every((k) => k !== undefined && k !== base));
  assert.equal(new Set(keys).size, keys.length);
});

test('answerKey: a message cut inside the answers, a bad label type, two questions or answers over maxBytes: no key', () => {
  const m = response(1, 'www.example.com', [[1, 300, [31, 0, 113, 5]]], { opt: false });
  assert.equal(answerKey(m.subarray(0, m.length - 2), 512), undefined);
  assert.equal(answerKey(m.subarray(0, 8), 512), undefined);
  const badLabel = Uint8Array.from(m);
  badLabel[12] = 0x80;
  assert.equal(answerKey(badLabel, 512), undefined);
  const two = Uint8Array.from(m);
  two[5] = 2;
  assert.equal(answerKey(two, 512), undefined);
  assert.equal(answerKey(m, 20), undefined);
  assert.ok(answerKey(m, m.length) !== undefined);
});
