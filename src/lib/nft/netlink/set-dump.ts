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

/** Keys (and, for interval sets, the end flag) in dump order, packed. */
export class ElementSink {
  readonly w: number;
  /** Per element: w key words, then flags. */
  private data: Uint32Array;
  /** Per element: timeout ms, expires ms (NaN = absent). Only for sets with timeouts. */
  private times: Float64Array | undefined;
  size = 0;
  /** Elements whose key is not WORDS[family] words long (a set of another type). */
  foreign = 0;

  constructor(readonly family: IpFamily, withTimes: boolean) {
    this.w = WORDS[family];
    this.data = new Uint32Array(1024 * (this.w + 1));
    this.times = withTimes ? new Float64Array(1024 * 2) : undefined;
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
    const stride = this.w + 1;
    if ((this.size + 1) * stride > this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const off = this.size * stride;
    for (let k = 0; k < this.w; k++) this.data[off + k] = p.readUInt32BE(keyAt + 4 * k);
    this.data[off + this.w] = flags;
    if (this.times) {
      if ((this.size + 1) * 2 > this.times.length) {
        const bigger = new Float64Array(this.times.length * 2);
        bigger.set(this.times);
        this.times = bigger;
      }
      this.times[this.size * 2] = timeout;
      this.times[this.size * 2 + 1] = expires;
    }
    this.size++;
  }

  /** Element order ascending by key, an interval end before a start at the same key (nft's expr_value_cmp). */
  private order(): Uint32Array {
    const n = this.size;
    const idx = new Uint32Array(n);
    // nft_set_rbtree walks from rb_first, the highest key (bigger keys go left in __nft_rbtree_insert):
    // reversing is then already the order, and checking it is O(n); anything else gets sorted.
    for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
    for (let i = 1; i < n; i++) {
      if (this.cmp(idx[i - 1]!, idx[i]!) > 0) return idx.sort((a, b) => this.cmp(a, b));
    }
    return idx;
  }

  private cmp(a: number, b: number): number {
    const s = this.w + 1;
    for (let k = 0; k < this.w; k++) {
      const x = this.data[a * s + k]!;
      const y = this.data[b * s + k]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    const ea = (this.data[a * s + this.w]! & NFT_SET_ELEM_INTERVAL_END) !== 0;
    const eb = (this.data[b * s + this.w]! & NFT_SET_ELEM_INTERVAL_END) !== 0;
    return ea === eb ? 0 : ea ? -1 : 1;
  }

  /** The boundaries as exact (unmerged) ranges, as nft pairs them (see the file comment). */
  toRanges(): RangeSet {
    const w = this.w;
    const s = w + 1;
    const d = this.data;
    const out = new Uint32Array(this.size * 2 * w);
    let n = 0;
    let low = -1;
    const close = (endAt: number | undefined): void => {
      const o = n * 2 * w;
      for (let k = 0; k < w; k++) out[o + k] = d[low * s + k]!;
      if (endAt === undefined) out.fill(0xffffffff, o + w, o + 2 * w);
      else {
        // last = end - 1 (the end key is exclusive); an end is never 0 after a start below it.
        let borrow = 1;
        for (let k = w - 1; k >= 0; k--) {
          const v = d[endAt * s + k]! - borrow;
          out[o + w + k] = v >>> 0;
          borrow = v < 0 ? 1 : 0;
        }
      }
      n++;
    };
    for (const i of this.order()) {
      const isEnd = (d[i * s + w]! & NFT_SET_ELEM_INTERVAL_END) !== 0;
      if (isEnd) {
        if (low >= 0) close(i);
        low = -1;
      } else {
        if (low >= 0) close(i);
        low = i;
      }
    }
    if (low >= 0) close(undefined);
    return { family: this.family, size: n, data: out.slice(0, n * 2 * w) };
  }

  /** Plain (hash) set: every key, ascending (nft sorts them: list_expr_sort), with its timeout and time left. */
  toEntries(): { keys: RangeSet; timeoutMs: Float64Array; expiresMs: Float64Array } {
    const w = this.w;
    const s = w + 1;
    const idx = this.order();
    const keys = new Uint32Array(this.size * 2 * w);
    const timeoutMs = new Float64Array(this.size).fill(NaN);
    const expiresMs = new Float64Array(this.size).fill(NaN);
    idx.forEach((src, dst) => {
      for (let k = 0; k < w; k++) keys[dst * 2 * w + k] = keys[dst * 2 * w + w + k] = this.data[src * s + k]!;
      if (this.times) {
        timeoutMs[dst] = this.times[src * 2]!;
        expiresMs[dst] = this.times[src * 2 + 1]!;
      }
    });
    return { keys: { family: this.family, size: this.size, data: keys }, timeoutMs, expiresMs };
  }
}
