import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageNames, readResponseAnswers } from '../../../src/lib/dns-wire/response-reader.js';
import { longName } from '../../helpers/wire-names.js';

const labels = (...ls: (string | number[])[]): number[] => ls.flatMap((l) => (typeof l === 'string' ? [Buffer.byteLength(l), ...Buffer.from(l)] : [l.length, ...l]));

test('question and answer owners: decompressed, lowercased, escapes as readName prints them', () => {
  const msg = Uint8Array.from([0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...labels('A.B', [0x20, 0xff], 'Example'), 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);
  const r = readResponseAnswers(msg);
  assert.equal(r.kind, 'response');
  if (r.kind !== 'response') return;
  assert.equal(r.question?.name, 'a\\.b.\\032\\255.example.');
  assert.deepEqual(
    r.answers.map((a) => [a.name, a.type, a.ttl, a.rdataOffset, a.rdataLength]),
    [['a\\.b.\\032\\255.example.', 1, 30, msg.length - 4, 4]],
  );
  // Names inside rdata (CNAME targets) are read through the message's name table, fresh here.
  const readCompressedName = (m: Uint8Array, offset: number, limit?: number) => new MessageNames(m).read(offset, limit);
  assert.equal(readCompressedName(msg, msg.length - 16), 'a\\.b.\\032\\255.example.');
  assert.equal(readCompressedName(msg, msg.length - 16, msg.length - 14), 'a\\.b.\\032\\255.example.', 'a pointer may leave the limit');
  assert.equal(readCompressedName(msg, 12, 14), undefined, 'in-place labels may not');
});

test('a 255-byte name is read; one byte more is refused', () => {
  const msg = (name: number[]): Uint8Array => Uint8Array.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...name, 0, 1, 0, 1]);
  assert.equal(readResponseAnswers(msg(longName(255))).kind, 'response');
  assert.deepEqual(readResponseAnswers(msg(longName(256))), { kind: 'malformed', reason: 'bad-name' });
});

/** A name table that remembers nothing: every name decoded from scratch, as the guard alone decides. */
class FreshNames extends MessageNames {
  constructor(private readonly m: Uint8Array) {
    super(m);
  }
  override read(offset: number, limit?: number): string | undefined {
    const n = new MessageNames(this.m);
    const r = n.read(offset, limit);
    this.end = n.end;
    this.failure = n.failure;
    return r;
  }
}

/**
 * Answers whose every owner is a bare pointer to the previous owner (the first to the question):
 * owner k (from 0) follows k + 1 pointers, so with 65 answers the last one needs 65, more than
 * MAX_JUMPS (64) — although the name it points at was read, and remembered, just before.
 */
function pointerChain(answers: number): Uint8Array {
  const out = [0, 1, 0x81, 0x80, 0, 1, 0, answers, 0, 0, 0, 0, ...labels('q'), 0, 0, 1, 0, 1];
  let prev = 12;
  for (let k = 0; k < answers; k++) {
    const owner = out.length;
    out.push(0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, k);
    prev = owner;
  }
  return Uint8Array.from(out);
}

test('remembered names: every answer reads exactly as if each name were decoded alone (pointer chains, deep jumps, random bytes)', () => {
  const same = (msg: Uint8Array, what: string) => assert.deepEqual(readResponseAnswers(msg), readResponseAnswers(msg, undefined, new FreshNames(msg)), what);
  const deep = pointerChain(65);
  const r = readResponseAnswers(deep);
  assert.deepEqual(r, { kind: 'malformed', reason: 'bad-name' }, 'the 65th owner needs 65 jumps: refused although the name it points at was read');
  same(deep, 'deep chain');
  same(pointerChain(64), 'chain within MAX_JUMPS');
  assert.equal(readResponseAnswers(pointerChain(64)).kind, 'response');
  // Random mutations of a well-formed chain: pointers retargeted, lengths and labels changed.
  let seed = 7;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const base = pointerChain(12);
  for (let i = 0; i < 5000; i++) {
    const m = Uint8Array.from(base);
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) m[12 + Math.floor(rand() * (m.length - 12))] = rand() < 0.5 ? Math.floor(rand() * 256) : 0xc0;
    same(m, `mutation ${i}`);
  }
});
