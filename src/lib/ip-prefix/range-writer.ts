import { WORDS, type IpFamily, type RangeSet } from './range-set.js';
import { copyWords } from './words.js';

/** Appends ranges (already in order) into a growing packed buffer; `finish()` trims it to a RangeSet. */
export class RangeWriter {
  readonly family: IpFamily;
  readonly w: number;
  private data: Uint32Array;
  size = 0;

  constructor(family: IpFamily, capacity = 64) {
    this.family = family;
    this.w = WORDS[family];
    this.data = new Uint32Array(Math.max(1, capacity) * 2 * this.w);
  }

  /** Append [src[fo..], src[lo..]]. */
  push(src: Uint32Array, fo: number, lo: number): void {
    const stride = 2 * this.w;
    if ((this.size + 1) * stride > this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const off = this.size * stride;
    copyWords(src, fo, this.data, off, this.w);
    copyWords(src, lo, this.data, off + this.w, this.w);
    this.size++;
  }

  /** The buffer itself while writing (for in-place extension of the last range). */
  get buffer(): Uint32Array {
    return this.data;
  }

  finish(): RangeSet {
    // Copy to the exact length: a 1M-entry build buffer must not stay pinned by a 10-range result.
    const data = this.data.slice(0, this.size * 2 * this.w);
    return { family: this.family, size: this.size, data };
  }
}

export function emptyRangeSet(family: IpFamily): RangeSet {
  return { family, size: 0, data: new Uint32Array(0) };
}
