import { parseAddress } from './address.js';
import { RangeSetBuilder } from './builder.js';
import { WORDS, type RangeSet } from './range-set.js';
import { RangeWriter } from './range-writer.js';
import { cmpWords, copyWords, decWords, incWords } from './words.js';

/** Set algebra on merged RangeSets: linear merge walks, no intermediate objects. */

function sameFamily(a: RangeSet, b: RangeSet): void {
  if (a.family !== b.family) throw new TypeError(`ip-prefix: family mismatch (${a.family} vs ${b.family})`);
}

/**
 * `set` minus `exclude`: ranges are cut around every excluded range (10.0.0.0/7 minus 10/8 leaves
 * 11/8), never dropped whole. The result stays merged: pieces of one range are separated by the cut.
 */
export function subtractRanges(set: RangeSet, exclude: RangeSet): RangeSet {
  sameFamily(set, exclude);
  const w = WORDS[set.family];
  const stride = 2 * w;
  if (exclude.size === 0) return set;
  const out = new RangeWriter(set.family, set.size + exclude.size);
  const cur = new Uint32Array(2 * w); // [cursor, piece end]
  const ex = exclude.data;
  let j = 0;
  for (let i = 0; i < set.size; i++) {
    const f = i * stride;
    const l = f + w;
    copyWords(set.data, f, cur, 0, w);
    let open = true; // cur[0..w) .. set.last still to emit
    // Skip excluded ranges wholly before this one.
    while (j < exclude.size && cmpWords(ex, j * stride + w, cur, 0, w) < 0) j++;
    let k = j;
    while (open && k < exclude.size && cmpWords(ex, k * stride, set.data, l, w) <= 0) {
      const xf = k * stride;
      if (cmpWords(ex, xf, cur, 0, w) > 0) {
        decWords(ex, xf, cur, w, w);
        out.push(cur, 0, w);
      }
      if (cmpWords(ex, xf + w, set.data, l, w) >= 0) open = false;
      else if (incWords(ex, xf + w, cur, 0, w)) open = false;
      else k++;
    }
    if (open) {
      copyWords(set.data, l, cur, w, w);
      out.push(cur, 0, w);
    }
  }
  return out.finish();
}

/** Union of any number of sets of one family. */
export function unionRangeSets(sets: readonly RangeSet[]): RangeSet {
  const first = sets[0];
  if (first === undefined) throw new TypeError('ip-prefix: union of nothing');
  const total = sets.reduce((n, s) => n + s.size, 0);
  const b = new RangeSetBuilder(first.family, total);
  for (const s of sets) b.addSet(s);
  return b.build();
}

/**
 * What turns `applied` into `desired` for an nft interval set: ranges present *exactly* (same first
 * and last) in one and not the other. A range that changed shape is removed as it was and added as it
 * is, because an nft delete must name an element exactly as stored.
 */
export function diffRangeSets(applied: RangeSet, desired: RangeSet): { removed: RangeSet; added: RangeSet } {
  sameFamily(applied, desired);
  const w = WORDS[applied.family];
  const stride = 2 * w;
  const removed = new RangeWriter(applied.family);
  const added = new RangeWriter(applied.family);
  const a = applied.data;
  const d = desired.data;
  let i = 0;
  let j = 0;
  while (i < applied.size || j < desired.size) {
    if (j >= desired.size) {
      removed.push(a, i * stride, i * stride + w);
      i++;
      continue;
    }
    if (i >= applied.size) {
      added.push(d, j * stride, j * stride + w);
      j++;
      continue;
    }
    const c = cmpWords(a, i * stride, d, j * stride, w);
    if (c < 0) {
      removed.push(a, i * stride, i * stride + w);
      i++;
    } else if (c > 0) {
      added.push(d, j * stride, j * stride + w);
      j++;
    } else {
      if (cmpWords(a, i * stride + w, d, j * stride + w, w) !== 0) {
        removed.push(a, i * stride, i * stride + w);
        added.push(d, j * stride, j * stride + w);
      }
      i++;
      j++;
    }
  }
  return { removed: removed.finish(), added: added.finish() };
}

/** Whether [src[fo..], src[lo..]] lies wholly inside one range of the set (binary search). */
export function coversRange(set: RangeSet, src: Uint32Array, fo: number, lo: number): boolean {
  const w = WORDS[set.family];
  const stride = 2 * w;
  // Last range whose first <= the range's first.
  let a = 0;
  let b = set.size - 1;
  let found = -1;
  while (a <= b) {
    const mid = (a + b) >>> 1;
    if (cmpWords(set.data, mid * stride, src, fo, w) <= 0) {
      found = mid;
      a = mid + 1;
    } else {
      b = mid - 1;
    }
  }
  return found >= 0 && cmpWords(src, lo, set.data, found * stride + w, w) <= 0;
}

/** Whether one address (text) is covered; false for the other family or non-address text. */
export function containsAddress(set: RangeSet, addrText: string): boolean {
  const a = parseAddress(addrText);
  if (a?.family !== set.family) return false;
  return coversRange(set, a.words, 0, 0);
}

function wordsToBigInt(data: Uint32Array, off: number, w: number): bigint {
  let v = 0n;
  for (let k = 0; k < w; k++) v = (v << 32n) | BigInt(data[off + k] ?? 0);
  return v;
}

/** Addresses covered (for tests and status: "what is covered", not how it is written). */
export function coveredAddressCount(set: RangeSet): bigint {
  const w = WORDS[set.family];
  let n = 0n;
  for (let i = 0; i < set.size; i++) {
    n += wordsToBigInt(set.data, i * 2 * w + w, w) - wordsToBigInt(set.data, i * 2 * w, w) + 1n;
  }
  return n;
}

/** Same family and exactly the same ranges (merged sets: equal coverage <=> equal data). */
export function rangeSetsEqual(a: RangeSet, b: RangeSet): boolean {
  if (a.family !== b.family || a.size !== b.size || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
