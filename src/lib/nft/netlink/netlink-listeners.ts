import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { NETLINK_NETFILTER, NFNLGRP_NFTABLES } from '../../libc/libc.js';
import { inNetns } from './nfnl-socket.js';

/**
 * Who listens to nf_tables notifications in a namespace, from /proc/net/netlink as that namespace
 * shows it (net/netlink/af_netlink.c netlink_seq_show: one line per netlink socket, columns
 * `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`; Eth is the protocol, Pid the portid,
 * Groups the first 32 multicast groups as a hex bitmask, group g being bit g-1).
 *
 * Why it matters: the kernel builds one notification skb per set element of a transaction only
 * when someone listens (nf_tables_setelem_notify() returns early when `!ctx->report &&
 * !nfnetlink_has_listeners(net, NFNLGRP_NFTABLES)`, net/netfilter/nf_tables_api.c), and keeps
 * them all until the commit ends: ~16.7 KiB per range with a listener, ~0.2 KiB without.
 *
 * "Someone" is anyone on the machine: netlink_has_listeners() tests the protocol's one listeners
 * bitmask, which netlink_update_listeners() builds from every bound socket of the protocol in
 * every namespace (nl_table[NETLINK_NETFILTER].mc_list; net/netlink/af_netlink.c). Measured: a
 * load into a namespace with no listener of its own took 16.7 KiB per range while another
 * namespace had one. So every namespace has to be looked at (nftListenersEverywhere).
 */

export interface NetlinkSocketRow {
  readonly protocol: number;
  readonly portid: number;
  /** Membership of groups 1–32 (bit g-1 for group g). */
  readonly groups: number;
}

const NFT_GROUP_BIT = 1 << (NFNLGRP_NFTABLES - 1);

/**
 * The rows of /proc/net/netlink. The header names the columns; a line that does not parse (a
 * format this code does not know) throws, so a caller never takes "unreadable" for "nobody listens".
 */
export function parseProcNetlink(text: string): NetlinkSocketRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift()?.trim().split(/\s+/) ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`netlink: /proc/net/netlink has no ${name} column (header: ${header.join(' ') || 'none'})`);
    return i;
  };
  const eth = col('Eth');
  const pid = col('Pid');
  const groups = col('Groups');
  return lines.map((line) => {
    const f = line.trim().split(/\s+/);
    const protocol = Number(f[eth]);
    const portid = Number(f[pid]);
    const g = f[groups] ?? '';
    if (!Number.isInteger(protocol) || !Number.isInteger(portid) || !/^[0-9a-fA-F]{1,8}$/.test(g)) throw new Error(`netlink: cannot parse /proc/net/netlink line: ${line.trim()}`);
    return { protocol, portid, groups: Number.parseInt(g, 16) };
  });
}

/** Portids of NETLINK_NETFILTER sockets joined to NFNLGRP_NFTABLES, except `exclude` (our own subscription). */
export function nftListeners(rows: readonly NetlinkSocketRow[], exclude?: number): number[] {
  return rows.filter((r) => r.protocol === NETLINK_NETFILTER && (r.groups & NFT_GROUP_BIT) !== 0 && r.portid !== exclude).map((r) => r.portid);
}

/**
 * /proc/net/netlink of the namespace: read by the main thread while it is inside (proc's net
 * directory follows the reading thread's namespace: /proc/thread-self/net).
 */
export function readProcNetlink(netns: string | undefined): string {
  const read = (): string => readFileSync('/proc/thread-self/net/netlink', 'utf8');
  return netns === undefined ? read() : inNetns(netns, read);
}

/** Sockets listening to nf_tables notifications in the namespace (their portids), except `ownPortid`. */
export function otherNftListeners(netns: string | undefined, ownPortid: number | undefined): number[] {
  return nftListeners(parseProcNetlink(readProcNetlink(netns)), ownPortid);
}

/** A listening socket: its namespace (inode of the nsfs file) and portid (unique only within it). */
export interface NftListener {
  readonly ns: bigint;
  readonly portid: number;
}

/**
 * Gone meanwhile: a process that exited (ENOENT, ESRCH), or /run/netns/NAME being added or deleted
 * (`ip netns` creates the file before it bind-mounts the namespace on it: setns says EINVAL).
 */
function gone(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return ['ENOENT', 'ESRCH', 'EINVAL'].includes(String(e.code)) || e.errno === 2 || e.errno === 3 || e.errno === 22;
}

/**
 * Every nf_tables listener on the machine, one namespace at a time: each namespace a process is
 * in (/proc/PID/net/netlink of one of its processes) and each named one (/run/netns/NAME, read
 * from inside, since the only sockets there may belong to processes elsewhere — as ours do).
 * Not seen: a namespace neither named nor any process's (kept alive only by a socket or an open
 * nsfs file held elsewhere). Processes that exit meanwhile are skipped; any other read error
 * throws (the caller then assumes someone listens).
 */
export function nftListenersEverywhere(): NftListener[] {
  const seen = new Set<bigint>();
  const out: NftListener[] = [];
  const visit = (ns: bigint, read: () => string): void => {
    if (seen.has(ns)) return;
    let text: string;
    try {
      text = read();
    } catch (err) {
      if (gone(err)) return;
      throw err;
    }
    seen.add(ns);
    for (const portid of nftListeners(parseProcNetlink(text))) out.push({ ns, portid });
  };
  const ino = (path: string): bigint | undefined => {
    try {
      return statSync(path, { bigint: true }).ino;
    } catch {
      return undefined;
    }
  };
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    // `net:[4026531840]`: the inode, without a stat (a readlink per process is ~10 µs).
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue;
    }
    const m = /^net:\[(\d+)\]$/.exec(link);
    if (m?.[1] !== undefined) visit(BigInt(m[1]), () => readFileSync(`/proc/${pid}/net/netlink`, 'utf8'));
  }
  let named: string[] = [];
  try {
    named = readdirSync('/run/netns');
  } catch (err) {
    if (!gone(err)) throw err;
  }
  for (const name of named) {
    const ns = ino(`/run/netns/${name}`);
    if (ns !== undefined) visit(ns, () => readProcNetlink(name));
  }
  return out;
}
