import { parseAddress, prefixToRange, WORDS, type IpFamily, type RangeSet } from '../../ip-prefix/index.js';
import type { NftElementJson, SetRef } from '../nft-json.js';
import type { NlWriter } from './nl-writer.js';

/**
 * NFT_MSG_NEWSETELEM / NFT_MSG_DELSETELEM encoding (include/uapi/linux/netfilter/nf_tables.h;
 * libnftnl src/set_elem.c nftnl_set_elem_nlmsg_build_payload).
 *
 * Interval sets: the kernel stores boundaries, not ranges. [first, last] is two elements: `first`,
 * and `last + 1` flagged NFT_SET_ELEM_INTERVAL_END; a range that ends at the top of the address
 * space has no end element (nftables src/intervals.c set_to_intervals: no "newelem" when the high
 * bound is all ones, the start is then open to the maximum). nft also adds a `0` INTERVAL_END
 * element to an empty set (segtree_needs_first_segment); the kernel lookup (nft_set_rbtree)
 * matches only when the nearest boundary at or below the key is a start, so that element changes
 * nothing and we do not send it (`nft list set` shows the same ranges either way — tested).
 *
 * Plain (hash) sets, the learned sets: one element per address, with NFTA_SET_ELEM_TIMEOUT in ms.
 */

// enum nft_msg_types, nft_set_elem_list_attributes, nft_set_elem_attributes, nft_data_attributes
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFT_MSG_GETSET = 10;
export const NFT_MSG_NEWSETELEM = 12;
export const NFT_MSG_DELSETELEM = 14;
export const NFTA_SET_ELEM_LIST_TABLE = 1;
export const NFTA_SET_ELEM_LIST_SET = 2;
export const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
export const NFTA_LIST_ELEM = 1;
export const NFTA_SET_ELEM_KEY = 1;
export const NFTA_SET_ELEM_FLAGS = 3;
export const NFTA_SET_ELEM_TIMEOUT = 4;
export const NFTA_DATA_VALUE = 1;
export const NFT_SET_ELEM_INTERVAL_END = 0x1;
// enum nft_set_flags
export const NFT_SET_INTERVAL = 0x4;
export const NFT_SET_TIMEOUT = 0x10;
/** NFPROTO_* of the table's family. */
export const NFPROTO: Readonly<Record<SetRef['family'], number>> = { inet: 1, ip: 2, ip6: 10 };

/** nla_len is 16 bits: a message's ELEMENTS nest must stay under 64 KiB, so big lists span messages. */
const MAX_NEST = 60_000;

/** Element list of one command: a packed model (set-sync) or elements narrowed from nft JSON. */
export type ElemSource = { kind: 'ranges'; set: RangeSet } | { kind: 'items'; items: readonly ElemItem[] };
export interface ElemItem {
  readonly family: IpFamily;
  readonly first: Uint32Array;
  readonly last: Uint32Array;
  readonly timeoutMs?: number;
}
export type ElemOp = { op: 'flush'; ref: SetRef } | { op: 'add' | 'delete'; ref: SetRef; elems: ElemSource };
/** What GETSET said about the target set. */
export interface SetInfo {
  readonly flags: number;
  readonly keyLen: number;
}

/** One element command as one or more messages; returns the offset of the last message (for NLM_F_ACK). */
export function encodeElemOp(w: NlWriter, op: ElemOp, info: SetInfo | undefined, seq: () => number, msgFlags: number): number {
  const type = (NFNL_SUBSYS_NFTABLES << 8) | (op.op === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
  const begin = (): { msg: number; nest: number } => {
    const msg = w.beginMsg(type, msgFlags, seq(), NFPROTO[op.ref.family], 0);
    w.str(NFTA_SET_ELEM_LIST_TABLE, op.ref.table);
    w.str(NFTA_SET_ELEM_LIST_SET, op.ref.set);
    return { msg, nest: op.op === 'flush' ? -1 : w.beginNest(NFTA_SET_ELEM_LIST_ELEMENTS) };
  };
  let cur = begin();
  if (op.op === 'flush') {
    // nf_tables_delsetelem(): no NFTA_SET_ELEM_LIST_ELEMENTS = flush the set (nft_set_flush).
    w.endMsg(cur.msg);
    return cur.msg;
  }
  const interval = info !== undefined && (info.flags & NFT_SET_INTERVAL) !== 0;
  const next = new Uint32Array(4);
  const one = (fam: IpFamily, first: ArrayLike<number>, fo: number, last: ArrayLike<number>, lo: number, timeoutMs: number | undefined): void => {
    const wd = WORDS[fam];
    if (info !== undefined && info.keyLen !== 4 * wd) throw new Error(`an ${fam} element for set ${op.ref.set} whose key is ${info.keyLen} bytes`);
    if (w.len - cur.nest > MAX_NEST) {
      w.endNest(cur.nest);
      w.endMsg(cur.msg);
      cur = begin();
    }
    element(w, first, fo, wd, 0, timeoutMs);
    if (!interval) {
      for (let k = 0; k < wd; k++) if ((first[fo + k] ?? 0) !== (last[lo + k] ?? 0)) throw new Error(`a range for set ${op.ref.set}, which has no interval flag`);
      return;
    }
    if (increment(last, lo, wd, next)) element(w, next, 0, wd, NFT_SET_ELEM_INTERVAL_END, undefined);
  };
  const src = op.elems;
  if (src.kind === 'ranges') {
    const wd = WORDS[src.set.family];
    const d = src.set.data;
    for (let i = 0; i < src.set.size; i++) one(src.set.family, d, i * 2 * wd, d, i * 2 * wd + wd, undefined);
  } else {
    for (const it of src.items) one(it.family, it.first, 0, it.last, 0, it.timeoutMs);
  }
  w.endNest(cur.nest);
  w.endMsg(cur.msg);
  return cur.msg;
}

function element(w: NlWriter, words: ArrayLike<number>, off: number, wd: number, flags: number, timeoutMs: number | undefined): void {
  const e = w.beginNest(NFTA_LIST_ELEM);
  const k = w.beginNest(NFTA_SET_ELEM_KEY);
  w.addr(NFTA_DATA_VALUE, words, off, wd);
  w.endNest(k);
  if (flags !== 0) w.be32(NFTA_SET_ELEM_FLAGS, flags);
  if (timeoutMs !== undefined) w.be64(NFTA_SET_ELEM_TIMEOUT, BigInt(timeoutMs));
  w.endNest(e);
}

/** out = words + 1; false when words is all ones (no end element: open to the maximum). */
function increment(words: ArrayLike<number>, off: number, wd: number, out: Uint32Array): boolean {
  let carry = 1;
  for (let k = wd - 1; k >= 0; k--) {
    const v = (words[off + k] ?? 0) + carry;
    out[k] = v >>> 0;
    carry = v > 0xffffffff ? 1 : 0;
  }
  return carry === 0;
}

/** One nft JSON element (as set-sync and learned-sets write them) as first/last words; undefined = not an address element. */
export function itemOf(e: unknown): ElemItem | undefined {
  if (typeof e === 'object' && e !== null && 'elem' in e) {
    const inner = (e as { elem: unknown }).elem;
    if (typeof inner !== 'object' || inner === null) return undefined;
    const { val, timeout } = inner as { val?: unknown; timeout?: unknown };
    const base = itemOf(val);
    if (!base || (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0)))) return undefined;
    return timeout === undefined ? base : { ...base, timeoutMs: Math.round(timeout * 1000) };
  }
  const j = e as NftElementJson;
  if (typeof j === 'string') {
    const a = parseAddress(j);
    return a && { family: a.family, first: a.words, last: a.words };
  }
  if (typeof j === 'object' && j !== null && 'prefix' in j) {
    const a = parseAddress(String(j.prefix.addr));
    const wd = a && WORDS[a.family];
    if (!a || !wd || !Number.isInteger(j.prefix.len) || j.prefix.len < 0 || j.prefix.len > 32 * wd) return undefined;
    const range = new Uint32Array(2 * wd);
    range.set(a.words, 0);
    prefixToRange(range, 0, wd, wd, j.prefix.len);
    return { family: a.family, first: range.subarray(0, wd), last: range.subarray(wd) };
  }
  if (typeof j === 'object' && j !== null && 'range' in j && Array.isArray(j.range)) {
    const a = parseAddress(String(j.range[0]));
    const b = parseAddress(String(j.range[1]));
    return a && b && a.family === b.family ? { family: a.family, first: a.words, last: b.words } : undefined;
  }
  return undefined;
}
