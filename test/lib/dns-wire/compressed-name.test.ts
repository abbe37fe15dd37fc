import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decompressName, MAX_JUMPS, skipName, SKIP_BAD_NAME, SKIP_TRUNCATED } from '../../../src/lib/dns-wire/compressed-name.js';
import { readResponseAnswers } from '../../../src/lib/dns-wire/response-reader.js';
import { MAX_NAME } from '../../../src/lib/dns-wire/wire-name.js';
import { readResponse } from '../../../src/lib/mdns/response-reader.js';
import { longName } from '../../helpers/wire-names.js';

/**
 * One table of hostile names, read by both callers of the decompressor: the dnstap answer reader
 * (which tells bad names from truncated ones) and the mDNS response reader (which drops either).
 * Each message has no question; the name under test is the owner of its *last* answer, the
 * answers before it only hold bytes for pointers to land on.
 */

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const ptr = (off: number): number[] => [0xc0 | (off >> 8), off & 0xff];
const labels = (...ls: string[]): number[] => ls.flatMap((l) => [l.length, ...Buffer.from(l)]);
/** Header of a response (QR, AA) with no question and `an` answers. */
const header = (an: number): number[] => [0x12, 0x34, 0x84, 0x00, 0, 0, ...u16(an), 0, 0, 0, 0];
/** Everything of a record after its owner: type A, class IN, TTL 60, `rdata`. */
const tail = (rdata: number[] = [10, 0, 0, 1]): number[] => [...u16(1), ...u16(1), 0, 0, 0, 60, ...u16(rdata.length), ...rdata];
/** The offset of the first rdata byte of a leading root-owned record: header 12 + owner 1 + 10. */
const RDATA = 23;
/** A root-owned record whose rdata is `bytes` (landing space for pointers), then `owner` + tail. */
const after = (bytes: number[], owner: number[]): number[] => [...header(2), 0, ...tail(bytes), ...owner, ...tail()];
/** The owner offset in `after(bytes, …)`. */
const ownerAt = (bytes: number[]): number => RDATA + bytes.length;

/** A root label then `n` pointers, each to the one before it: reading the last one takes n jumps. */
function pointerChain(n: number): number[] {
  const out = [0];
  for (let i = 0; i < n; i++) out.push(...ptr(RDATA + (i === 0 ? 0 : 1 + 2 * (i - 1))));
  return out;
}

type Want = 'name' | 'bad-name' | 'truncated';
const cases: [string, number[], Want][] = [
  ['plain labels', [...header(1), ...labels('a', 'b'), 0, ...tail()], 'name'],
  ['exactly 255 octets', [...header(1), ...longName(MAX_NAME), ...tail()], 'name'],
  [`${MAX_JUMPS} jumps`, after(pointerChain(MAX_JUMPS - 1), ptr(RDATA + 1 + 2 * (MAX_JUMPS - 2))), 'name'],
  ['pointer to itself', [...header(1), ...ptr(12), ...tail()], 'bad-name'],
  ['pointer back to its own name', [...header(1), ...labels('a'), ...ptr(12), ...tail()], 'bad-name'],
  ['forward pointer', [...header(1), ...ptr(40), ...tail(), ...new Array<number>(40).fill(0)], 'bad-name'],
  ['pointer into the header', [...header(1), ...ptr(4), ...tail()], 'bad-name'],
  // The owner points at a pointer in the earlier rdata that points back at the owner: 25 -> 23 -> 25.
  ['loop through two pointers', after(ptr(RDATA + 2), ptr(RDATA)), 'bad-name'],
  [`${MAX_JUMPS + 1} jumps`, after(pointerChain(MAX_JUMPS), ptr(RDATA + 1 + 2 * (MAX_JUMPS - 1))), 'bad-name'],
  ['256 octets of labels', [...header(1), ...longName(MAX_NAME + 1), ...tail()], 'bad-name'],
  ['over 255 octets through backward pointers', overlongThroughPointers(), 'bad-name'],
  ['label of 64', [...header(1), 64, ...new Array<number>(64).fill(0x61), 0, ...tail()], 'bad-name'],
  ['0x40 label type', [...header(1), 0x41, 0, ...tail()], 'bad-name'],
  ['0x80 label type', [...header(1), 0x81, 0, ...tail()], 'bad-name'],
  ['label past the end', [...header(1), 5, 0x61, 0x62], 'truncated'],
  ['no root label', [...header(1), ...labels('a')], 'truncated'],
  ['half a pointer', [...header(1), 0xc0], 'truncated'],
];

/** Six 60-byte labels, each followed by a pointer to the previous one: 366 octets read in place and via pointers. */
function overlongThroughPointers(): number[] {
  const bytes: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < 6; i++) {
    starts.push(RDATA + bytes.length);
    bytes.push(...labels('x'.repeat(60)), ...(i === 0 ? [0] : ptr(starts[i - 1] ?? 0)));
  }
  return after(bytes, ptr(starts[5] ?? 0));
}

test('hostile names: the dnstap reader and the mDNS reader share one guard', () => {
  for (const [what, bytes, want] of cases) {
    const msg = Uint8Array.from(bytes);
    const dnstap = readResponseAnswers(msg);
    const mdns = readResponse(msg);
    if (want === 'name') {
      assert.equal(dnstap.kind, 'response', `${what}: dnstap ${JSON.stringify(dnstap)}`);
      assert.equal(mdns.kind, 'response', `${what}: mdns ${JSON.stringify(mdns)}`);
    } else {
      assert.deepEqual(dnstap, { kind: 'malformed', reason: want }, `${what}: dnstap`);
      assert.deepEqual(mdns, { kind: 'drop', reason: 'malformed' }, `${what}: mdns`);
    }
  }
});

test('decompressName: the offset after the name in place, the length read, case kept', () => {
  const landing = [...labels('Ab'), 0];
  const bytes = after(landing, [...labels('X'), ...ptr(RDATA)]);
  const out = new Uint8Array(MAX_NAME);
  const at = ownerAt(landing);
  assert.deepEqual(decompressName(Uint8Array.from(bytes), at, out), { kind: 'name', end: at + 4, length: 6, jumps: 1 });
  assert.deepEqual([...out.subarray(0, 6)], [1, 0x58, 2, 0x41, 0x62, 0]);
  // `limit` bounds the in-place part only (a name in rdata must not run past RDLENGTH).
  assert.equal(decompressName(Uint8Array.from(bytes), at, out, at + 4).kind, 'name');
  assert.deepEqual(decompressName(Uint8Array.from(bytes), at, out, at + 3), { kind: 'truncated' });
});

test('skipName: a pointer ends the name and must point back past the header and before the name', () => {
  const msg = Uint8Array.from([...header(0), ...labels('a'), 0, ...labels('b'), ...ptr(12), ...ptr(4), ...ptr(21), 0xc0]);
  assert.equal(skipName(msg, 12, msg.length), 15);
  assert.equal(skipName(msg, 15, msg.length), 19, 'labels then a pointer back');
  assert.equal(skipName(msg, 19, msg.length), SKIP_BAD_NAME, 'into the header');
  assert.equal(skipName(msg, 21, msg.length), SKIP_BAD_NAME, 'at or after the name');
  assert.equal(skipName(msg, 23, msg.length), SKIP_TRUNCATED);
  const long = Uint8Array.from([...header(0), ...longName(MAX_NAME + 1)]);
  assert.equal(skipName(long, 12, long.length), SKIP_BAD_NAME, 'over 255 octets');
});
