import { WORDS, type IpFamily } from './range-set.js';

/**
 * Address text <-> big-endian 32-bit words, without allocating per address: a million entries are
 * parsed straight into the builder's buffer. Strict on purpose — list data is untrusted, and a
 * lenient parser is how "0.0.0.0/0" or an octal "010.1.1.1" slips into a routing set.
 */

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Dotted-quad IPv4 in s[start, end) into out[off]. No leading zeros: inet_aton reads "010" as octal, others as decimal. */
export function parseIPv4Into(s: string, start: number, end: number, out: Uint32Array, off: number): boolean {
  let value = 0;
  let octets = 0;
  let digits = 0;
  let cur = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octets === 3) return false;
      value = value * 256 + cur;
      octets++;
      cur = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return false;
    if (digits > 0 && cur === 0) return false;
    cur = cur * 10 + (c - 48);
    digits++;
    if (cur > 255) return false;
  }
  if (digits === 0 || octets !== 3) return false;
  out[off] = value * 256 + cur;
  return true;
}

const groups = new Array<number>(8).fill(0);
const v4Scratch = new Uint32Array(1);

/** RFC 4291 §2.2 text (with `::` and a trailing dotted quad) in s[start, end) into out[off..off+4). Zone ids are refused. */
export function parseIPv6Into(s: string, start: number, end: number, out: Uint32Array, off: number): boolean {
  if (end - start < 2) return false;
  let n = 0;
  let gap = -1;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return false;
    let j = i;
    let v = 0;
    for (; j < end; j++) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      if (j - i === 4) return false;
      v = v * 16 + d;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      // Embedded IPv4 (::ffff:192.0.2.1): the last 32 bits, and nothing may follow it.
      if (n > 6 || !parseIPv4Into(s, i, end, v4Scratch, 0)) return false;
      const w = v4Scratch[0] ?? 0;
      groups[n++] = w >>> 16;
      groups[n++] = w & 0xffff;
      break;
    }
    if (j === i) return false;
    groups[n++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap >= 0) return false;
      gap = n;
      j++;
    } else if (j === end) {
      return false;
    }
    i = j;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let k = 0; k < 4; k++) {
    const hi = groupAt(2 * k, gap, zeros);
    const lo = groupAt(2 * k + 1, gap, zeros);
    out[off + k] = ((hi << 16) | lo) >>> 0;
  }
  return true;
}

function groupAt(pos: number, gap: number, zeros: number): number {
  if (gap < 0 || pos < gap) return groups[pos] ?? 0;
  if (pos < gap + zeros) return 0;
  return groups[pos - zeros] ?? 0;
}

/** The family of an address text, by its first separator (cheap; the parser decides validity). */
export function guessFamily(s: string): IpFamily | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) return 'ipv4';
    if (c === 58) return 'ipv6';
  }
  return undefined;
}

export function parseAddressInto(family: IpFamily, s: string, start: number, end: number, out: Uint32Array, off: number): boolean {
  return family === 'ipv4' ? parseIPv4Into(s, start, end, out, off) : parseIPv6Into(s, start, end, out, off);
}

/** Words of one address, or undefined when the text is not a single address. */
export function parseAddress(text: string): { family: IpFamily; words: Uint32Array } | undefined {
  const s = text.trim();
  const family = guessFamily(s);
  if (family === undefined) return undefined;
  const words = new Uint32Array(WORDS[family]);
  return parseAddressInto(family, s, 0, s.length, words, 0) ? { family, words } : undefined;
}

/** Canonical text: dotted quad, or RFC 5952 (lowercase, longest zero run of 2+ groups as `::`, first on a tie). */
export function formatAddress(family: IpFamily, data: ArrayLike<number>, off: number): string {
  if (family === 'ipv4') {
    const w = data[off] ?? 0;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const g: number[] = [];
  for (let k = 0; k < 4; k++) {
    const w = data[off + k] ?? 0;
    g.push(w >>> 16, w & 0xffff);
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}
