import { domainToASCII } from 'node:url';

/**
 * Domain names as lists and users write them → the one form every list entry, runtime addition
 * and lookup is kept in: lowercase ASCII (IDN → punycode: registries list .рф names in Unicode),
 * no trailing dot, a leading `*.` dropped (to a suffix matcher a wildcard entry and its base name
 * are both "this name and below"), labels of LDH and `_` (`_dmarc`, `_sip._tcp` appear in lists).
 */

/** RFC 1035 §2.3.4: 255 wire bytes = at most 253 presentation characters without the trailing dot. */
export const MAX_TEXT = 253;
const MAX_LABEL = 63;

export type DomainRejectReason = 'invalid-domain' | 'too-broad';

export type NormalisedDomain = { readonly kind: 'name'; readonly name: string } | { readonly kind: DomainRejectReason };

const INVALID: NormalisedDomain = Object.freeze({ kind: 'invalid-domain' });
const TOO_BROAD: NormalisedDomain = Object.freeze({ kind: 'too-broad' });
const PLAIN = /^[a-z0-9_.-]+$/;
const scratch = new Uint8Array(MAX_TEXT);

/**
 * `raw` trimmed (Unicode white space) and lowercased, one leading `*.` and one trailing dot
 * dropped, IDN → punycode (`node:url` domainToASCII, UTS #46), then held to the rules the matcher
 * stores entries by (writeEntry). A single label is `too-broad`: a bare TLD would capture a whole
 * country's names.
 */
export function normaliseDomain(raw: string): NormalisedDomain {
  let s = raw.trim().toLowerCase();
  if (s.startsWith('*.')) s = s.slice(2);
  if (s.endsWith('.')) s = s.slice(0, -1);
  // Only non-ASCII names pay for the IDNA conversion; '' means it is not a valid name.
  if (!PLAIN.test(s)) s = domainToASCII(s);
  // s is lowercase now, so what writeLabels accepts is s itself, byte for byte.
  if (writeLabels(s, 0, s.length, scratch, 0) < 0) return INVALID;
  return s.includes('.') ? { kind: 'name', name: s } : TOO_BROAD;
}

/**
 * The cheap part alone, as DomainMatcher.build applies it to every entry: ASCII white space, one
 * `*.` and one trailing dot dropped, A–Z folded; no IDN conversion and no policy on single labels.
 * Written into `out` at `at`; returns the length, or -1 when not a valid ASCII name.
 */
export function writeEntry(raw: string, out: Uint8Array, at: number): number {
  let start = 0;
  let end = raw.length;
  while (start < end && isSpace(raw.charCodeAt(start))) start++;
  while (end > start && isSpace(raw.charCodeAt(end - 1))) end--;
  if (end - start >= 2 && raw.charCodeAt(start) === 0x2a && raw.charCodeAt(start + 1) === 0x2e) start += 2;
  if (end > start && raw.charCodeAt(end - 1) === 0x2e) end--;
  return writeLabels(raw, start, end, out, at);
}

/**
 * Validate `raw[start, end)` while writing it lowercased into `out` at `at`: labels 1–63 of
 * `[a-z0-9_-]`, no hyphen at either end, ≤ 253 in all. Returns the length, or -1 (nothing written
 * past `out[at + MAX_TEXT]`). One pass over the characters: a regex per label cost ~1 µs an entry
 * at 1M.
 */
function writeLabels(raw: string, start: number, end: number, out: Uint8Array, at: number): number {
  const len = end - start;
  if (len === 0 || len > MAX_TEXT) return -1;
  let labelStart = 0;
  for (let i = 0; i < len; i++) {
    let c = raw.charCodeAt(start + i);
    if (c === 0x2e) {
      if (!labelOk(out, at + labelStart, i - labelStart)) return -1;
      labelStart = i + 1;
    } else if (c >= 0x41 && c <= 0x5a) {
      c |= 0x20;
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) {
      return -1;
    }
    out[at + i] = c;
  }
  return labelOk(out, at + labelStart, len - labelStart) ? len : -1;
}

function labelOk(buf: Uint8Array, at: number, len: number): boolean {
  return len > 0 && len <= MAX_LABEL && buf[at] !== 0x2d && buf[at + len - 1] !== 0x2d;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** The form DomainMatcher.build stores (and `match` reports) `raw` in, or undefined when it would reject it. */
export function normaliseEntry(raw: string): string | undefined {
  const buf = new Uint8Array(raw.length);
  const len = writeEntry(raw, buf, 0);
  return len < 0 ? undefined : String.fromCharCode(...buf.subarray(0, len));
}
