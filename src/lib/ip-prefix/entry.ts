import { guessFamily, parseAddressInto } from './address.js';
import { WORDS, type IpFamily } from './range-set.js';
import { cmpWords, prefixToRange } from './words.js';

/**
 * One list entry's text -> an inclusive range: `192.0.2.1`, `192.0.2.0/24` (host bits set are
 * normalised: `192.0.2.7/24` -> 192.0.2.0-192.0.2.255), `192.0.2.10-192.0.2.20`, and the IPv6 forms.
 */

/** Why an entry was not taken. Parsing gives the first three; the guard (bogons.ts) the rest. */
export type EntryRejectReason = 'not-an-address' | 'bad-prefix-length' | 'bad-range' | 'too-broad' | 'bogon' | 'excluded';

export interface ParsedEntry {
  kind: 'entry';
  family: IpFamily;
  first: Uint32Array;
  last: Uint32Array;
  /** The CIDR had host bits set and was widened to its block. */
  normalised: boolean;
}

/**
 * Parse trimmed text into out: first at [0, w), last at [w, 2w) (w = WORDS[family]); out needs 8
 * words. Returns the family, or why not. The allocation-free path the list parsers use.
 */
export function parseEntryInto(s: string, out: Uint32Array): IpFamily | EntryRejectReason {
  const family = guessFamily(s);
  if (family === undefined) return 'not-an-address';
  const w = WORDS[family];
  const end = s.length;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    if (!parseAddressInto(family, s, 0, slash, out, 0)) return 'not-an-address';
    const len = parsePrefixLength(s, slash + 1, end);
    if (len < 0 || len > 32 * w) return 'bad-prefix-length';
    prefixToRange(out, 0, w, w, len);
    return family;
  }
  const dash = s.indexOf('-');
  if (dash >= 0) {
    let a = dash;
    while (a > 0 && s.charCodeAt(a - 1) === 32) a--;
    let b = dash + 1;
    while (b < end && s.charCodeAt(b) === 32) b++;
    if (!parseAddressInto(family, s, 0, a, out, 0)) return 'not-an-address';
    if (guessFamily(s.slice(b)) !== family || !parseAddressInto(family, s, b, end, out, w)) return 'bad-range';
    return cmpWords(out, 0, out, w, w) <= 0 ? family : 'bad-range';
  }
  if (!parseAddressInto(family, s, 0, end, out, 0)) return 'not-an-address';
  for (let k = 0; k < w; k++) out[w + k] = out[k] ?? 0;
  return family;
}

function parsePrefixLength(s: string, start: number, end: number): number {
  if (end - start < 1 || end - start > 3) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

const scratch = new Uint32Array(8);

export type EntryParse = ParsedEntry | { kind: 'rejected'; reason: EntryRejectReason };

/** Parse one entry (trimmed here); `rejected` carries the reason it is not an entry. */
export function parseEntry(text: string): EntryParse {
  const s = text.trim();
  const r = parseEntryInto(s, scratch);
  if (r !== 'ipv4' && r !== 'ipv6') return { kind: 'rejected', reason: r };
  const w = WORDS[r];
  const first = scratch.slice(0, w);
  const last = scratch.slice(w, 2 * w);
  let normalised = false;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    // Re-parse the address part only to report whether host bits were cleared.
    const raw = new Uint32Array(w);
    parseAddressInto(r, s, 0, slash, raw, 0);
    normalised = cmpWords(raw, 0, first, 0, w) !== 0;
  }
  return { kind: 'entry', family: r, first, last, normalised };
}
