import { MAX_LABEL, MAX_NAME } from './wire-name.js';

/**
 * Names in messages somebody else wrote (Unbound's replies via dnstap, mDNS responses from the
 * LAN), where compression pointers (RFC 1035 §4.1.4) may appear anywhere. One guard for every
 * reader, so hostile input costs the same bounded work wherever it arrives:
 *
 * - a pointer must aim strictly below the previous jump (the first one below the name itself):
 *   §4.1.4 only allows pointers to a *prior* occurrence, and with strictly decreasing targets no
 *   loop can be built;
 * - never into the 12-byte header (RFC 1035 §4.1.1: there is no name there);
 * - at most MAX_JUMPS pointers per name (the rule above already bounds it; this is tighter);
 * - labels of 0–63 octets only (the 01/10 label types are retired, RFC 6891 §5), and the whole
 *   name, root label included, at most 255 octets (RFC 1035 §2.3.4);
 * - `limit` bounds the in-place part (a name inside rdata must not run past RDLENGTH); what a
 *   pointer reaches may lie anywhere before it in the message.
 */

/** RFC 1035 §4.1.1. */
export const HEADER_SIZE = 12;
export const MAX_JUMPS = 64;

export type NameRead =
  /**
   * `out[0, length)` holds the name (terminating zero included); `end` is the offset after it in
   * place; `jumps` the pointers followed (≤ MAX_JUMPS).
   */
  | { readonly kind: 'name'; readonly end: number; readonly length: number; readonly jumps: number }
  /** Bad label type, overlong label or name, a pointer forwards, into the header or looping. */
  | { readonly kind: 'bad-name' }
  /** The name runs past `limit` (or the message). */
  | { readonly kind: 'truncated' };

/** Shared: junk is the common case on a hostile LAN, and failures carry no data. */
const BAD_NAME: NameRead = Object.freeze({ kind: 'bad-name' });
const TRUNCATED: NameRead = Object.freeze({ kind: 'truncated' });

/**
 * Decompress the name at `offset` of `msg` into `out` (at least MAX_NAME bytes) as uncompressed
 * wire labels, case kept. Never throws.
 */
export function decompressName(msg: Uint8Array, offset: number, out: Uint8Array, limit = msg.length): NameRead {
  let len = 0;
  let off = offset;
  let end = -1;
  let lowest = offset;
  let jumps = 0;
  for (;;) {
    const bound = end < 0 ? limit : msg.length;
    if (off >= bound) return TRUNCATED;
    const b = msg[off] as number;
    if (b === 0) {
      out[len++] = 0;
      return { kind: 'name', end: end < 0 ? off + 1 : end, length: len, jumps };
    }
    if ((b & 0xc0) === 0xc0) {
      if (off + 1 >= bound) return TRUNCATED;
      const target = ((b & 0x3f) << 8) | (msg[off + 1] as number);
      if (target >= lowest || target < HEADER_SIZE || ++jumps > MAX_JUMPS) return BAD_NAME;
      if (end < 0) end = off + 2;
      lowest = target;
      off = target;
      continue;
    }
    if (b > MAX_LABEL) return BAD_NAME;
    if (off + 1 + b > bound) return TRUNCATED;
    if (len + 1 + b + 1 > MAX_NAME) return BAD_NAME;
    // A byte loop: labels are a few bytes, and `out.set(msg.subarray(…))` built a typed array per label.
    for (let k = 0; k <= b; k++) out[len + k] = msg[off + k] as number;
    len += 1 + b;
    off += 1 + b;
  }
}

/** skipName's failures (its success is an offset, ≥ 0: the hot path of every query allocates nothing). */
export const SKIP_BAD_NAME = -1;
export const SKIP_TRUNCATED = -2;

/**
 * Skip the name at `off` without following pointers: a pointer ends the name and must point back
 * past the header and before this name, which rules out loops for anyone who does follow it.
 * Returns the offset after the name, SKIP_BAD_NAME or SKIP_TRUNCATED.
 */
export function skipName(msg: Uint8Array, off: number, end: number): number {
  const start = off;
  for (;;) {
    if (off >= end) return SKIP_TRUNCATED;
    const len = msg[off] as number;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= end) return SKIP_TRUNCATED;
      const target = ((len & 0x3f) << 8) | (msg[off + 1] as number);
      if (target < HEADER_SIZE || target >= start) return SKIP_BAD_NAME;
      return off + 2;
    }
    if (len > MAX_LABEL) return SKIP_BAD_NAME;
    off += 1 + len;
    if (off - start >= MAX_NAME) return SKIP_BAD_NAME;
  }
}
