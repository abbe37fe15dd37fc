import { WORDS, type IpFamily, type RangeSet } from '../../ip-prefix/index.js';
import { NFTA_DATA_VALUE, NFTA_LIST_ELEM, NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_LIST_ELEMENTS, NFTA_SET_ELEM_TIMEOUT, NFT_SET_ELEM_INTERVAL_END } from './set-elements.js';

/**
 * Decoding of a GETSETELEM dump (NFT_MSG_NEWSETELEM parts, nf_tables_fill_setelem in
 * net/netfilter/nf_tables_api.c) straight into packed arrays: no object per element.
 *
 * Interval sets hold boundaries, not ranges: a start element, and `last + 1` flagged
 * NFT_SET_ELEM_INTERVAL_END; a range reaching the top of the address space has no end. nft turns
 * them back into ranges in interval_map_decompose() (nftables src/segtree.c, 1.0.6): sort by key,
 * an end before a start at the same key; an end with no open start is dropped (nft's own `0` end
 * element of an empty set); a start that follows a start closes the first at the second's key - 1;
 * a start still open at the end runs to the maximum. `toRanges` does exactly that, so the result
 * is element for element what `nft -j list set` prints (tested against it).
 */

export const NFTA_SET_ELEM_EXPIRATION = 5;
const NLA_TYPE_MASK = 0x3fff; // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

/** Elements per storage chunk: growing never copies, so the peak is the data itself (no 2x while doubling). */
const CHUNK = 65_536;

/** Keys (and, for interval sets, the end flag) in dump order, packed in fixed-size chunks. */
export class ElementSink {
  readonly w: number;
  /** CHUNK elements each: w key words per element. */
  private readonly keys: Uint32Array[] = [];
  /** CHUNK elements each: NFTA_SET_ELEM_FLAGS (the low byte is all nft_set_elem_flags has). */
  private readonly flags: Uint8Array[] = [];
  /** CHUNK elements each: timeout ms, expires ms (NaN = absent). Only for sets with timeouts. */
  private readonly times: Float64Array[] | undefined;
  size = 0;
  /** Elements whose key is not WORDS[family] words long (a set of another type). */
  foreign = 0;

  constructor(
    readonly family: IpFamily,
    withTimes: boolean,
  ) {
    this.w = WORDS[family];
    this.times = withTimes ? [] : undefined;
  }

  private key(i: number, k: number): number {
    return this.keys[Math.floor(i / CHUNK)]![(i % CHUNK) * this.w + k]!;
  }

  private isEnd(i: number): boolean {
    return (this.flags[Math.floor(i / CHUNK)]![i % CHUNK]! & NFT_SET_ELEM_INTERVAL_END) !== 0;
  }

  /** Decodes every element of one dump part (the message payload after nlmsghdr). */
  addMessage(p: Buffer): void {
    for (let at = 4; at + 4 <= p.length; ) {
      const len = p.readUInt16LE(at);
      if (len < 4) return;
      if ((p.readUInt16LE(at + 2) & NLA_TYPE_MASK) === NFTA_SET_ELEM_LIST_ELEMENTS) this.addElements(p, at + 4, at + len);
      at += (len + 3) & ~3;
    }
  }

  private addElements(p: Buffer, from: number, to: number): void {
    for (let at = from; at + 4 <= to; ) {
      const len = p.readUInt16LE(at);
      if (len < 4) return;
      if ((p.readUInt16LE(at + 2) & NLA_TYPE_MASK) === NFTA_LIST_ELEM) this.addElement(p, at + 4, at + len);
      at += (len + 3) & ~3;
    }
  }

  private addElement(p: Buffer, from: number, to: number): void {
    let keyAt = -1;
    let keyLen = 0;
    let flags = 0;
    let timeout = NaN;
    let expires = NaN;
    for (let at = from; at + 4 <= to; ) {
      const len = p.readUInt16LE(at);
      if (len < 4) break;
      const type = p.readUInt16LE(at + 2) & NLA_TYPE_MASK;
      if (type === NFTA_SET_ELEM_KEY) {
        // nft_data: one NFTA_DATA_VALUE inside.
        if (len >= 8 && (p.readUInt16LE(at + 6) & NLA_TYPE_MASK) === NFTA_DATA_VALUE) {
          keyAt = at + 8;
          keyLen = p.readUInt16LE(at + 4) - 4;
        }
      } else if (type === NFTA_SET_ELEM_FLAGS && len >= 8) flags = p.readUInt32BE(at + 4);
      else if (type === NFTA_SET_ELEM_TIMEOUT && len >= 12) timeout = Number(p.readBigUInt64BE(at + 4));
      else if (type === NFTA_SET_ELEM_EXPIRATION && len >= 12) expires = Number(p.readBigUInt64BE(at + 4));
      at += (len + 3) & ~3;
    }
    if (keyAt < 0 || keyLen !== 4 * this.w) {
      this.foreign++;
      return;
    }
    const c = Math.floor(this.size / CHUNK);
    const o = this.size % CHUNK;
    if (o === 0) {
      this.keys.push(new Uint32Array(CHUNK * this.w));
      this.flags.push(new Uint8Array(CHUNK));
      this.times?.push(new Float64Array(CHUNK * 2));
    }
    const keys = this.keys[c]!;
    for (let k = 0; k < this.w; k++) keys[o * this.w + k] = p.readUInt32BE(keyAt + 4 * k);
    this.flags[c]![o] = flags & 0xff;
    const times = this.times?.[c];
    if (times) {
      times[o * 2] = timeout;
      times[o * 2 + 1] = expires;
    }
    this.size++;
  }

  /**
   * Calls `visit` with each element index in ascending key order, an interval end before a start
   * at the same key (nft's expr_value_cmp). nft_set_rbtree walks from rb_first, the highest key
   * (bigger keys go left in __nft_rbtree_insert), so walking the dump backwards is already that
   * order: checked in O(n) without an index array; anything else gets sorted.
   */
  private inOrder(visit: (i: number) => void): void {
    const n = this.size;
    let sorted = true;
    for (let i = n - 1; i > 0 && sorted; i--) sorted = this.cmp(i, i - 1) <= 0;
    if (sorted) {
      for (let i = n - 1; i >= 0; i--) visit(i);
      return;
    }
    const idx = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => this.cmp(a, b));
    for (const i of idx) visit(i);
  }

  private cmp(a: number, b: number): number {
    for (let k = 0; k < this.w; k++) {
      const x = this.key(a, k);
      const y = this.key(b, k);
      if (x !== y) return x < y ? -1 : 1;
    }
    const ea = this.isEnd(a);
    return ea === this.isEnd(b) ? 0 : ea ? -1 : 1;
  }

  /** The boundaries as exact (unmerged) ranges, as nft pairs them (see the file comment). */
  toRanges(): RangeSet {
    const w = this.w;
    // Every start opens exactly one range (closed by an end, the next start, or the top).
    let starts = 0;
    for (let i = 0; i < this.size; i++) if (!this.isEnd(i)) starts++;
    const out = new Uint32Array(starts * 2 * w);
    let n = 0;
    let low = -1;
    const close = (endAt: number | undefined): void => {
      const o = n * 2 * w;
      for (let k = 0; k < w; k++) out[o + k] = this.key(low, k);
      if (endAt === undefined) out.fill(0xffffffff, o + w, o + 2 * w);
      else {
        // last = end - 1 (the end key is exclusive); an end is never 0 after a start below it.
        let borrow = 1;
        for (let k = w - 1; k >= 0; k--) {
          const v = this.key(endAt, k) - borrow;
          out[o + w + k] = v >>> 0;
          borrow = v < 0 ? 1 : 0;
        }
      }
      n++;
    };
    this.inOrder((i) => {
      if (low >= 0) close(i);
      low = this.isEnd(i) ? -1 : i;
    });
    if (low >= 0) close(undefined);
    return { family: this.family, size: n, data: out };
  }

  /** Plain (hash) set: every key, ascending (nft sorts them: list_expr_sort), with its timeout and time left. */
  toEntries(): { keys: RangeSet; timeoutMs: Float64Array; expiresMs: Float64Array } {
    const w = this.w;
    const keys = new Uint32Array(this.size * 2 * w);
    const timeoutMs = new Float64Array(this.size).fill(NaN);
    const expiresMs = new Float64Array(this.size).fill(NaN);
    let dst = 0;
    this.inOrder((src) => {
      for (let k = 0; k < w; k++) keys[dst * 2 * w + k] = keys[dst * 2 * w + w + k] = this.key(src, k);
      const t = this.times?.[Math.floor(src / CHUNK)];
      if (t) {
        timeoutMs[dst] = t[(src % CHUNK) * 2]!;
        expiresMs[dst] = t[(src % CHUNK) * 2 + 1]!;
      }
      dst++;
    });
    return { keys: { family: this.family, size: this.size, data: keys }, timeoutMs, expiresMs };
  }
}
