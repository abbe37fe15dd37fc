import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCompressedName, readResponseAnswers } from '../../../src/lib/dns-wire/response-reader.js';
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
  assert.equal(readCompressedName(msg, msg.length - 16), 'a\\.b.\\032\\255.example.');
  assert.equal(readCompressedName(msg, msg.length - 16, msg.length - 14), 'a\\.b.\\032\\255.example.', 'a pointer may leave the limit');
  assert.equal(readCompressedName(msg, 12, 14), undefined, 'in-place labels may not');
});

test('a 255-byte name is read; one byte more is refused', () => {
  const msg = (name: number[]): Uint8Array => Uint8Array.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...name, 0, 1, 0, 1]);
  assert.equal(readResponseAnswers(msg(longName(255))).kind, 'response');
  assert.deepEqual(readResponseAnswers(msg(longName(256))), { kind: 'malformed', reason: 'bad-name' });
});
