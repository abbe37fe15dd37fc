import { endianness } from 'node:os';
import { WORDS, type IpFamily, type RangeSet } from './range-set.js';
import { cmpWords, isSuccessor } from './words.js';

/**
 * A RangeSet's words as file bytes (u32 little-endian, whatever the host) and back, for the files
 * that keep models across restarts (list snapshots, set-sync's record of what it applied).
 */

const bigEndianHost = endianness() === 'BE';

/** Bytes per range of a family on disk. */
export const RANGE_BYTES: Readonly<Record<IpFamily, number>> = { ipv4: 8, ipv6: 32 };

export function rangeSetBytes(set: RangeSet): Buffer {
  const data = set.data.subarray(0, set.size * 2 * WORDS[set.family]);
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return bigEndianHost ? Buffer.from(b).swap32() : b;
}

/** Copy out (aligned), fix byte order, and check the RangeSet invariant: sorted, merged, first <= last. A string says what is wrong. */
export function rangeSetFromBytes(family: IpFamily, bytes: Buffer | undefined): RangeSet | string {
  if (bytes === undefined) return `${family} ranges cut short`;
  if (bytes.length % RANGE_BYTES[family] !== 0) return `${family} ranges: ${bytes.length} bytes is not a whole number of ranges`;
  const data = new Uint32Array(bytes.length / 4);
  const view = Buffer.from(data.buffer);
  bytes.copy(view);
  if (bigEndianHost) view.swap32();
  const w = WORDS[family];
  const size = data.length / (2 * w);
  for (let i = 0; i < size; i++) {
    const f = i * 2 * w;
    if (cmpWords(data, f, data, f + w, w) > 0) return `${family} range ${i} has first > last`;
    if (i > 0 && (cmpWords(data, f - w, data, f, w) >= 0 || isSuccessor(data, f - w, data, f, w))) return `${family} ranges not sorted and merged at ${i}`;
  }
  return { family, size, data };
}
