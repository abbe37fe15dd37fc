/**
 * Arithmetic on addresses stored as `w` big-endian 32-bit words inside a Uint32Array at an offset
 * (1 word for IPv4, 4 for IPv6). Plain numbers, no BigInt: these run once per entry on 1M entries.
 */

export function cmpWords(a: Uint32Array, ao: number, b: Uint32Array, bo: number, w: number): number {
  for (let k = 0; k < w; k++) {
    const x = a[ao + k] ?? 0;
    const y = b[bo + k] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function copyWords(src: Uint32Array, so: number, dst: Uint32Array, d: number, w: number): void {
  for (let k = 0; k < w; k++) dst[d + k] = src[so + k] ?? 0;
}

/** dst = src + 1; returns true on wrap-around past the top of the family (the all-ones address). */
export function incWords(src: Uint32Array, so: number, dst: Uint32Array, d: number, w: number): boolean {
  let carry = true;
  for (let k = w - 1; k >= 0; k--) {
    const x = src[so + k] ?? 0;
    dst[d + k] = carry ? (x + 1) >>> 0 : x;
    carry = carry && x === 0xffffffff;
  }
  return carry;
}

/** dst = src - 1; returns true on wrap-around below zero. */
export function decWords(src: Uint32Array, so: number, dst: Uint32Array, d: number, w: number): boolean {
  let borrow = true;
  for (let k = w - 1; k >= 0; k--) {
    const x = src[so + k] ?? 0;
    dst[d + k] = borrow ? (x - 1) >>> 0 : x;
    borrow = borrow && x === 0;
  }
  return borrow;
}

/** b === a + 1 (so [.., a] and [b, ..] are adjacent and merge). */
export function isSuccessor(a: Uint32Array, ao: number, b: Uint32Array, bo: number, w: number): boolean {
  let carry = true;
  for (let k = w - 1; k >= 0; k--) {
    const x = a[ao + k] ?? 0;
    const expect = carry ? (x + 1) >>> 0 : x;
    if ((b[bo + k] ?? 0) !== expect) return false;
    carry = carry && x === 0xffffffff;
  }
  return !carry;
}

/** The mask of word k (bits 32k..32k+31) for a prefix of `len` bits. */
export function maskWord(k: number, len: number): number {
  const bits = Math.max(0, Math.min(32, len - 32 * k));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** first = addr & mask, last = addr | ~mask, in place at fo/lo; returns true when addr had host bits set. */
export function prefixToRange(data: Uint32Array, fo: number, lo: number, w: number, len: number): boolean {
  let hostBits = false;
  for (let k = 0; k < w; k++) {
    const m = maskWord(k, len);
    const a = data[fo + k] ?? 0;
    if ((a & ~m) !== 0) hostBits = true;
    data[fo + k] = (a & m) >>> 0;
    data[lo + k] = (a | ~m) >>> 0;
  }
  return hostBits;
}

/** last - first >= 2^hostBits: the range covers more than one prefix of (bits - hostBits). */
export function spanExceeds(data: Uint32Array, fo: number, lo: number, w: number, hostBits: number): boolean {
  // 32w-bit subtraction, least significant word first, then test the bits at and above hostBits.
  let borrow = 0;
  const diff = [0, 0, 0, 0];
  for (let k = w - 1; k >= 0; k--) {
    let d = (data[lo + k] ?? 0) - (data[fo + k] ?? 0) - borrow;
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 0x100000000;
    diff[k] = d;
  }
  for (let k = 0; k < w; k++) {
    if (((diff[k] ?? 0) & maskWord(k, 32 * w - hostBits)) !== 0) return true;
  }
  return false;
}

function countTrailing(x: number, ones: boolean): number {
  let v = ones ? ~x >>> 0 : x >>> 0;
  if (v === 0) return 32;
  let n = 0;
  while ((v & 1) === 0) {
    v >>>= 1;
    n++;
  }
  return n;
}

/**
 * The prefix length when [first, last] is exactly one CIDR block, else -1. Host bits h =
 * min(trailing zeros of first, trailing ones of last); it is a block iff first | hostmask(h) === last
 * (if both had more than h, the bit at h would differ inside one block — impossible).
 */
export function exactPrefixLength(data: Uint32Array, fo: number, lo: number, w: number): number {
  let tz = 0;
  for (let k = w - 1; k >= 0; k--) {
    const t = countTrailing(data[fo + k] ?? 0, false);
    tz += t;
    if (t < 32) break;
  }
  let to = 0;
  for (let k = w - 1; k >= 0; k--) {
    const t = countTrailing(data[lo + k] ?? 0, true);
    to += t;
    if (t < 32) break;
  }
  const len = 32 * w - Math.min(tz, to);
  for (let k = 0; k < w; k++) {
    if (((data[fo + k] ?? 0) | ~maskWord(k, len)) >>> 0 !== (data[lo + k] ?? 0)) return -1;
  }
  return len;
}
