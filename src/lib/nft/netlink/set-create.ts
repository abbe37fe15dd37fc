import type { CreateSpec } from '../nft-json.js';
import { NLM_F_CREATE, NLM_F_REQUEST, type NlWriter } from './nl-writer.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO, NFT_SET_INTERVAL, NFT_SET_TIMEOUT, type SetInfo } from './set-elements.js';
import {
  BYTEORDER_BIG_ENDIAN,
  NFTA_SET_FLAGS,
  NFTA_SET_ID,
  NFTA_SET_KEY_LEN,
  NFTA_SET_KEY_TYPE,
  NFTA_SET_NAME,
  NFTA_SET_TABLE,
  NFTA_SET_USERDATA,
  NFTA_TABLE_NAME,
  NFTNL_UDATA_SET_KEYBYTEORDER,
  TYPE_IP6ADDR,
  TYPE_IPADDR,
} from './set-info.js';

/**
 * `add table` / `add set` as nft sends them (nftables src/mnl.c mnl_nft_table_add and
 * mnl_nft_set_add, seen with `nft --debug=mnl`): NFT_MSG_NEWTABLE with NFTA_TABLE_NAME and
 * NFTA_TABLE_FLAGS 0; NFT_MSG_NEWSET with the key's datatype id and length, the flags, a batch-local
 * NFTA_SET_ID and userdata holding the key byteorder, which is what makes `nft list` print
 * `type ipv4_addr` for it. NLM_F_CREATE without NLM_F_EXCL: an existing table is left as it is, an
 * existing set too when it has the same type and flags (nf_tables_newset; a different one is EEXIST).
 */

const NFT_MSG_NEWTABLE = 0;
const NFT_MSG_NEWSET = 9;
const NFTA_TABLE_FLAGS = 2;

/** What a batch creates: the typed command's spec (nft-json.ts). */
export type CreateOp = CreateSpec;

/** What the kernel will say about a set this batch creates (for encoding its elements). */
export function createdSetInfo(c: Extract<CreateOp, { op: 'set' }>): SetInfo {
  return { flags: flagBits(c.flags), keyLen: c.type === 'ipv4_addr' ? 4 : 16 };
}

const flagBits = (flags: readonly ('interval' | 'timeout')[]): number => flags.reduce((b, f) => b | (f === 'interval' ? NFT_SET_INTERVAL : NFT_SET_TIMEOUT), 0);

/** One create as one message; returns its offset. `setId` numbers the sets of one batch. */
export function encodeCreate(w: NlWriter, c: CreateOp, seq: number, setId: number): number {
  const family = NFPROTO[c.op === 'table' ? c.family : c.ref.family];
  const at = w.beginMsg((NFNL_SUBSYS_NFTABLES << 8) | (c.op === 'table' ? NFT_MSG_NEWTABLE : NFT_MSG_NEWSET), NLM_F_REQUEST | NLM_F_CREATE, seq, family, 0);
  if (c.op === 'table') {
    w.str(NFTA_TABLE_NAME, c.table);
    w.be32(NFTA_TABLE_FLAGS, 0);
  } else {
    const info = createdSetInfo(c);
    w.str(NFTA_SET_TABLE, c.ref.table);
    w.str(NFTA_SET_NAME, c.ref.set);
    w.be32(NFTA_SET_FLAGS, info.flags);
    w.be32(NFTA_SET_KEY_TYPE, c.type === 'ipv4_addr' ? TYPE_IPADDR : TYPE_IP6ADDR);
    w.be32(NFTA_SET_KEY_LEN, info.keyLen);
    w.be32(NFTA_SET_ID, setId);
    // nftnl_udata_put_u32(NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_BIG_ENDIAN): {type, len 4, u32 host order}.
    const ud = Buffer.alloc(6);
    ud.writeUInt8(NFTNL_UDATA_SET_KEYBYTEORDER, 0);
    ud.writeUInt8(4, 1);
    ud.writeUInt32LE(BYTEORDER_BIG_ENDIAN, 2);
    w.binary(NFTA_SET_USERDATA, ud);
  }
  w.endMsg(at);
  return at;
}
