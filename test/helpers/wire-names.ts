/** Uncompressed wire bytes of a name of exactly `n` octets (root label included): 63-octet labels of `a`, then a shorter one. */
export function longName(n: number): number[] {
  const out: number[] = [];
  let left = n - 1;
  while (left > 0) {
    const l = Math.min(63, left - 1);
    out.push(l, ...new Array<number>(l).fill(0x61));
    left -= l + 1;
  }
  return [...out, 0];
}
