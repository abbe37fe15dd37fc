import type { SetDescription } from '../nft-backend.js';
import type { SetRef } from '../nft-json.js';
import type { NfnlSocket } from './nfnl-socket.js';
import { NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, NlWriter, parseAttrs } from './nl-writer.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO, NFT_MSG_GETSET, NFT_SET_INTERVAL, NFT_SET_TIMEOUT } from './set-elements.js';

/**
 * GETSET / GETTABLE / GETGEN (include/uapi/linux/netfilter/nf_tables.h) and what nft makes of a
 * set's attributes: its type name (nft's datatype ids, nftables include/datatype.h), its flags as
 * `nft list set` prints them (src/rule.c set_print_declaration) and auto-merge, which the kernel
 * does not know: nft keeps it in the set's userdata as NFTNL_UDATA_SET_MERGE_ELEMENTS (a TLV list,
 * libnftnl include/libnftnl/udata.h; nftables src/mnl.c mnl_nft_set_add).
 */

export const NFT_MSG_GETTABLE = 1;
export const NFT_MSG_GETSETELEM = 13;
export const NFT_MSG_GETGEN = 16;
export const NFTA_TABLE_NAME = 1;
export const NFTA_SET_TABLE = 1;
export const NFTA_SET_NAME = 2;
export const NFTA_SET_FLAGS = 3;
export const NFTA_SET_KEY_TYPE = 4;
export const NFTA_SET_KEY_LEN = 5;
export const NFTA_SET_ID = 10;
export const NFTA_SET_TIMEOUT = 11;
export const NFTA_SET_USERDATA = 13;
const NFTA_GEN_ID = 1;
export const NFT_SET_CONSTANT = 0x2;
export const NFT_SET_EVAL = 0x20;
/** nftables include/datatype.h enum datatypes. */
export const TYPE_IPADDR = 7;
export const TYPE_IP6ADDR = 8;
/** libnftnl enum nftnl_udata_set_types. */
export const NFTNL_UDATA_SET_KEYBYTEORDER = 0;
export const NFTNL_UDATA_SET_MERGE_ELEMENTS = 2;
/** nftables enum byteorder: addresses are BYTEORDER_BIG_ENDIAN. */
export const BYTEORDER_BIG_ENDIAN = 2;

/** A set as GETSET describes it. */
export interface KernelSet {
  readonly flags: number;
  readonly keyType: number;
  readonly keyLen: number;
  /** The set's default timeout (ms), 0 = none. */
  readonly timeoutMs: number;
  readonly autoMerge: boolean;
}

export type SetLookup = { kind: 'ok'; set: KernelSet } | { kind: 'missing'; what: 'table' | 'set' };

const ENOENT = 2;

export function typeName(keyType: number): string {
  return keyType === TYPE_IPADDR ? 'ipv4_addr' : keyType === TYPE_IP6ADDR ? 'ipv6_addr' : `datatype ${keyType}`;
}

/** Flags as `nft list set` prints them (a default timeout makes `timeout` implicit there). */
export function textFlags(s: KernelSet): string[] {
  const out: string[] = [];
  if (s.flags & NFT_SET_CONSTANT) out.push('constant');
  if (s.flags & NFT_SET_EVAL) out.push('dynamic');
  if (s.flags & NFT_SET_INTERVAL) out.push('interval');
  if (s.flags & NFT_SET_TIMEOUT && s.timeoutMs === 0) out.push('timeout');
  return out;
}

/** Flags as `nft -j list set` prints them (src/json.c set_print_json). */
export function jsonFlags(s: KernelSet): string[] {
  const out: string[] = [];
  if (s.flags & NFT_SET_CONSTANT) out.push('constant');
  if (s.flags & NFT_SET_INTERVAL) out.push('interval');
  if (s.flags & NFT_SET_TIMEOUT) out.push('timeout');
  return out;
}

export function describe(s: KernelSet): SetDescription {
  return { kind: 'ok', type: typeName(s.keyType), flags: textFlags(s), autoMerge: s.autoMerge };
}

/** The u32 TLVs nft writes into a set's userdata ({type u8, len u8, value}). */
export function parseSetUserdata(u: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  for (let at = 0; at + 2 <= u.length; ) {
    const type = u[at]!;
    const len = u[at + 1]!;
    if (at + 2 + len > u.length) break;
    if (len === 4) out.set(type, u.readUInt32LE(at + 2)); // nftnl_udata_put_u32: host order
    at += 2 + len;
  }
  return out;
}

async function get(sock: NfnlSocket, type: number, family: number, attrs: (w: NlWriter) => void): Promise<{ errno: number; payload?: Buffer }> {
  const w = new NlWriter(512);
  const seq = sock.nextSeq(1);
  const at = w.beginMsg((NFNL_SUBSYS_NFTABLES << 8) | type, NLM_F_REQUEST | NLM_F_ACK, seq, family, 0);
  attrs(w);
  w.endMsg(at);
  const rs = await sock.request(w.bytes());
  const err = rs.find((r) => r.seq === seq && r.type === NLMSG_ERROR && r.error !== 0);
  if (err) return { errno: -(err.error ?? 0) };
  const ans = rs.find((r) => r.seq === seq && r.type !== NLMSG_ERROR);
  return ans ? { errno: 0, payload: ans.payload } : { errno: 0 };
}

/** GETSET; on ENOENT a GETTABLE says which of the two is missing. Other errors throw (errno in the message). */
export async function lookupSet(sock: NfnlSocket, ref: SetRef): Promise<SetLookup> {
  const fam = NFPROTO[ref.family];
  const r = await get(sock, NFT_MSG_GETSET, fam, (w) => {
    w.str(NFTA_SET_TABLE, ref.table);
    w.str(NFTA_SET_NAME, ref.set);
  });
  if (r.errno === ENOENT) {
    const t = await get(sock, NFT_MSG_GETTABLE, fam, (w) => w.str(NFTA_TABLE_NAME, ref.table));
    if (t.errno !== 0 && t.errno !== ENOENT) throw Object.assign(new Error('GETTABLE failed'), { errno: t.errno });
    return { kind: 'missing', what: t.errno === ENOENT ? 'table' : 'set' };
  }
  if (r.errno !== 0) throw Object.assign(new Error('GETSET failed'), { errno: r.errno });
  if (!r.payload) throw new Error('no answer to GETSET');
  const a = parseAttrs(r.payload);
  const u = a.get(NFTA_SET_USERDATA);
  const ud = u ? parseSetUserdata(u) : new Map<number, number>();
  const timeout = a.get(NFTA_SET_TIMEOUT);
  return {
    kind: 'ok',
    set: {
      flags: a.get(NFTA_SET_FLAGS)?.readUInt32BE(0) ?? 0,
      keyType: a.get(NFTA_SET_KEY_TYPE)?.readUInt32BE(0) ?? 0,
      keyLen: a.get(NFTA_SET_KEY_LEN)?.readUInt32BE(0) ?? 0,
      timeoutMs: timeout && timeout.length >= 8 ? Number(timeout.readBigUInt64BE(0)) : 0,
      autoMerge: (ud.get(NFTNL_UDATA_SET_MERGE_ELEMENTS) ?? 0) !== 0,
    },
  };
}

/** The ruleset generation (NFTA_GEN_ID): it changes with every commit in the namespace. */
export async function generation(sock: NfnlSocket): Promise<number> {
  const r = await get(sock, NFT_MSG_GETGEN, 0, () => undefined);
  if (r.errno !== 0 || !r.payload) throw Object.assign(new Error('GETGEN failed'), { errno: r.errno });
  return parseAttrs(r.payload).get(NFTA_GEN_ID)?.readUInt32BE(0) ?? 0;
}
