/**
 * Domain names on the hot path: presentation text <-> uncompressed wire labels, written straight
 * into a caller's buffer (no intermediate arrays) and compared without building strings.
 *
 * Escaping follows RFC 1035 §5.1 exactly as `presentation.ts` does, so a name read here and one
 * printed there agree: `\.` and `\\` for a dot or backslash inside a label, `\DDD` (decimal) for
 * every byte outside 0x21–0x7E (space, UTF-8, controls). When writing we also accept raw non-ASCII
 * characters and encode them as UTF-8 (mDNS names are UTF-8, RFC 6762 §16).
 */

export class NameError extends Error {}

/** The name would not fit before `limit`: a size problem (→ TC=1), not a bad name. */
export class NoRoomError extends NameError {}

/** RFC 1035 §2.3.4. */
export const MAX_LABEL = 63;
export const MAX_NAME = 255;

/**
 * Write `name` (presentation form; trailing dot optional, "." or "" = root) as uncompressed wire
 * labels at `offset`. Returns the offset after the terminating zero byte. Throws NameError for an
 * empty label, a label over 63 bytes, a name over 255 bytes, or when `limit` would be passed.
 */
export function writeName(buf: Uint8Array, offset: number, name: string, limit: number = buf.length): number {
  const start = offset;
  let lenPos = offset; // where the current label's length byte goes
  let off = offset + 1;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      const len = off - lenPos - 1;
      if (len === 0) {
        // "." alone is the root; any other empty label ("a..b", ".a") is invalid.
        if (n === 1) break;
        throw new NameError(`empty label in "${name}"`);
      }
      buf[lenPos] = len;
      lenPos = off;
      off++;
      continue;
    }
    if (c === 0x5c) {
      const d = decimalEscape(name, i + 1);
      if (d >= 0) {
        c = d;
        i += 3;
      } else if (i + 1 < n) {
        i++;
        c = name.charCodeAt(i);
      } else {
        throw new NameError(`dangling backslash in "${name}"`);
      }
      if (c < 0x80 || d >= 0) {
        off = putByte(buf, off, c, limit, lenPos, name);
        continue;
      }
    }
    if (c < 0x80) {
      off = putByte(buf, off, c, limit, lenPos, name);
      continue;
    }
    // Non-ASCII: UTF-8 encode the code point (surrogate pairs joined).
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const lo = name.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x800) {
      off = putByte(buf, off, 0xc0 | (cp >> 6), limit, lenPos, name);
    } else {
      if (cp < 0x10000) {
        off = putByte(buf, off, 0xe0 | (cp >> 12), limit, lenPos, name);
      } else {
        off = putByte(buf, off, 0xf0 | (cp >> 18), limit, lenPos, name);
        off = putByte(buf, off, 0x80 | ((cp >> 12) & 0x3f), limit, lenPos, name);
      }
      off = putByte(buf, off, 0x80 | ((cp >> 6) & 0x3f), limit, lenPos, name);
    }
    off = putByte(buf, off, 0x80 | (cp & 0x3f), limit, lenPos, name);
  }
  const last = off - lenPos - 1;
  if (last > 0) {
    // Relative-looking input ("a.local"): treat as absolute, add the root label.
    buf[lenPos] = last;
    lenPos = off;
    off++;
  }
  if (lenPos >= limit) throw new NoRoomError(`no room for "${name}"`);
  buf[lenPos] = 0;
  if (off - start > MAX_NAME) throw new NameError(`name "${name}" is longer than ${MAX_NAME} bytes`);
  return off;
}

function putByte(buf: Uint8Array, off: number, byte: number, limit: number, lenPos: number, name: string): number {
  if (off - lenPos > MAX_LABEL) throw new NameError(`a label of "${name}" is longer than ${MAX_LABEL} bytes`);
  if (off >= limit) throw new NoRoomError(`no room for "${name}"`);
  buf[off] = byte;
  return off + 1;
}

/** `\DDD` after the backslash at `i - 1`: the byte value, or -1 when not three digits ≤ 255. */
function decimalEscape(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  const c = s.charCodeAt(i + 2) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  const v = a * 100 + b * 10 + c;
  if (v > 255) throw new NameError(`escape \\${s.slice(i, i + 3)} is above 255`);
  return v;
}

/**
 * Presentation form (absolute, case kept) of the uncompressed name at `offset`. The caller has
 * validated it (request-reader does); a pointer or overrun here is a bug, so it throws.
 */
export function readName(msg: Uint8Array, offset: number): string {
  let out = '';
  let off = offset;
  for (;;) {
    const len = msg[off];
    if (len === undefined || len > MAX_LABEL) throw new NameError(`invalid label at offset ${off}`);
    if (len === 0) return out === '' ? '.' : out;
    const end = off + 1 + len;
    if (end > msg.length) throw new NameError(`label at offset ${off} runs past the message`);
    for (let i = off + 1; i < end; i++) {
      const b = msg[i] as number;
      if (b === 0x2e || b === 0x5c) out += b === 0x2e ? '\\.' : '\\\\';
      else if (b < 0x21 || b > 0x7e) out += b < 10 ? `\\00${b}` : b < 100 ? `\\0${b}` : `\\${b}`;
      else out += String.fromCharCode(b);
    }
    out += '.';
    off = end;
  }
}

/** ASCII case fold of one byte (RFC 4343: only A–Z fold; label length bytes are ≤ 63, never A–Z). */
export function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/** Case-insensitive equality of `len` bytes at `a[aOff]` and `b[bOff]`. */
export function equalFold(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) {
    if (lowerByte(a[aOff + i] as number) !== lowerByte(b[bOff + i] as number)) return false;
  }
  return true;
}

/** Wire form of a presentation name, lowercased (for zone tables and tests; not the hot path). */
export function nameToWireLower(name: string): Uint8Array {
  const tmp = new Uint8Array(MAX_NAME + 1);
  const end = writeName(tmp, 0, name);
  const out = tmp.slice(0, end);
  for (let i = 0; i < out.length; i++) out[i] = lowerByte(out[i] as number);
  return out;
}
