import type { NftFamily } from '../nft-json.js';
import { NFNL_SUBSYS_NFTABLES } from './set-elements.js';
import { NLA_HDRLEN, NLMSG_HDRLEN, parseAttrs } from './nl-writer.js';

/**
 * nf_tables change notifications (multicast group NFNLGRP_NFTABLES) as typed events.
 *
 * Every notification of a committed transaction carries, in nlmsg_pid, the portid of the socket
 * that sent the change: nf_tables_api.c builds each one with nfnl_msg_put(skb, ctx->portid, …)
 * (nf_tables_fill_table/_set/_setelem_info; ctx->portid = NETLINK_CB(skb).portid of the batch),
 * and NFT_MSG_NEWGEN, sent last after the commit, with the same portid (nf_tables_gen_notify).
 * So "is this ours?" is an exact question about nlmsg_pid, not a guess about counts or timing.
 *
 * The kernel sends one NEWSETELEM/DELSETELEM message per element (nf_tables_setelem_notify), and
 * `flush ruleset` / `delete table` as DELSET + DELTABLE without per-element deletes.
 */

// enum nft_msg_types (include/uapi/linux/netfilter/nf_tables.h)
const NFT_MSG_NEWTABLE = 0;
const NFT_MSG_DELTABLE = 2;
const NFT_MSG_NEWSET = 9;
const NFT_MSG_DELSET = 11;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFT_MSG_NEWGEN = 15;
/** Linux ≥ 6.3 `destroy` commands; the commit reports them with the command's own type. */
const NFT_MSG_DESTROYTABLE = 26;
const NFT_MSG_DESTROYSET = 29;
const NFT_MSG_DESTROYSETELEM = 30;
// attributes
const NFTA_TABLE_NAME = 1;
const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_GEN_ID = 1;

const FAMILY: Readonly<Record<number, NftFamily>> = { 1: 'inet', 2: 'ip', 10: 'ip6' };

/** One notification: a change to a table, set or elements, or the end of a transaction (gen). */
export type RawNftEvent =
  | { readonly portid: number; readonly kind: 'table'; readonly op: 'add' | 'delete'; readonly family: NftFamily; readonly table: string }
  | { readonly portid: number; readonly kind: 'set'; readonly op: 'add' | 'delete'; readonly family: NftFamily; readonly table: string; readonly set: string }
  | { readonly portid: number; readonly kind: 'element'; readonly op: 'add' | 'delete'; readonly family: NftFamily; readonly table: string; readonly set: string; readonly count: number }
  | { readonly portid: number; readonly kind: 'gen'; readonly genId: number };

const str = (b: Buffer | undefined): string | undefined => {
  if (b === undefined) return undefined;
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
};

/** Attributes directly inside a nest. */
function countNested(nest: Buffer): number {
  let n = 0;
  let at = 0;
  while (at + NLA_HDRLEN <= nest.length) {
    const len = nest.readUInt16LE(at);
    if (len < NLA_HDRLEN || at + len > nest.length) break;
    n++;
    at += (len + 3) & ~3;
  }
  return n;
}

/** One message (type and payload after the nlmsghdr); undefined for what we do not follow (chains, rules, objects, other families). */
export function parseNftMessage(type: number, portid: number, payload: Buffer): RawNftEvent | undefined {
  if (type >> 8 !== NFNL_SUBSYS_NFTABLES || payload.length < 4) return undefined;
  const msg = type & 0xff;
  const attrs = parseAttrs(payload);
  if (msg === NFT_MSG_NEWGEN) return { portid, kind: 'gen', genId: attrs.get(NFTA_GEN_ID)?.readUInt32BE(0) ?? 0 };
  const family = FAMILY[payload.readUInt8(0)];
  if (family === undefined) return undefined;
  switch (msg) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case NFT_MSG_DESTROYTABLE: {
      const table = str(attrs.get(NFTA_TABLE_NAME));
      return table === undefined ? undefined : { portid, kind: 'table', op: msg === NFT_MSG_NEWTABLE ? 'add' : 'delete', family, table };
    }
    case NFT_MSG_NEWSET:
    case NFT_MSG_DELSET:
    case NFT_MSG_DESTROYSET: {
      const table = str(attrs.get(NFTA_SET_TABLE));
      const set = str(attrs.get(NFTA_SET_NAME));
      return table === undefined || set === undefined ? undefined : { portid, kind: 'set', op: msg === NFT_MSG_NEWSET ? 'add' : 'delete', family, table, set };
    }
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_DESTROYSETELEM: {
      const table = str(attrs.get(NFTA_SET_ELEM_LIST_TABLE));
      const set = str(attrs.get(NFTA_SET_ELEM_LIST_SET));
      const elems = attrs.get(NFTA_SET_ELEM_LIST_ELEMENTS);
      if (table === undefined || set === undefined) return undefined;
      return { portid, kind: 'element', op: msg === NFT_MSG_NEWSETELEM ? 'add' : 'delete', family, table, set, count: elems === undefined ? 0 : countNested(elems) };
    }
    default:
      return undefined;
  }
}

/**
 * Every event of one datagram, consecutive element events of the same set, op and sender merged
 * into one with the summed count (a 16k-element transaction is 16k messages; consumers need one).
 */
export function parseNftDatagram(buf: Buffer, out: RawNftEvent[] = []): RawNftEvent[] {
  let at = 0;
  while (at + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > buf.length) break;
    const e = parseNftMessage(buf.readUInt16LE(at + 4), buf.readUInt32LE(at + 12), buf.subarray(at + NLMSG_HDRLEN, at + len));
    at += (len + 3) & ~3;
    if (e === undefined) continue;
    const prev = out[out.length - 1];
    if (e.kind === 'element' && prev?.kind === 'element' && prev.portid === e.portid && prev.op === e.op && prev.set === e.set && prev.table === e.table && prev.family === e.family) {
      out[out.length - 1] = { ...prev, count: prev.count + e.count };
    } else out.push(e);
  }
  return out;
}
