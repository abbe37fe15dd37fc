import { formatAddress } from './address.js';
import { WORDS, type RangeSet } from './range-set.js';
import { exactPrefixLength } from './words.js';

/**
 * The nft JSON element for range i of a set (libnftables-json(5)): a single address as a plain
 * string, a CIDR-aligned range as `{prefix}`, anything else as `{range}`. Set-sync deletes elements
 * by exactly these shapes, so they must be a pure function of the range.
 */
export type NftElement = string | { prefix: { addr: string; len: number } } | { range: [string, string] };

export function rangeToNftElement(set: RangeSet, i: number): NftElement {
  checkIndex(set, i);
  const w = WORDS[set.family];
  const f = i * 2 * w;
  const len = exactPrefixLength(set.data, f, f + w, w);
  const first = formatAddress(set.family, set.data, f);
  if (len === 32 * w) return first;
  if (len >= 0) return { prefix: { addr: first, len } };
  return { range: [first, formatAddress(set.family, set.data, f + w)] };
}

/** Range i as text: `192.0.2.1`, `192.0.2.0/24` or `192.0.2.10-192.0.2.20` (parseEntry reads it back). */
export function rangeText(set: RangeSet, i: number): string {
  const e = rangeToNftElement(set, i);
  if (typeof e === 'string') return e;
  if ('prefix' in e) return `${e.prefix.addr}/${e.prefix.len}`;
  return `${e.range[0]}-${e.range[1]}`;
}

/** All ranges as text, in order (tests, dry-run output). */
export function rangeTexts(set: RangeSet): string[] {
  const out: string[] = [];
  for (let i = 0; i < set.size; i++) out.push(rangeText(set, i));
  return out;
}

function checkIndex(set: RangeSet, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= set.size) throw new RangeError(`ip-prefix: range index ${i} outside 0..${set.size - 1}`);
}
