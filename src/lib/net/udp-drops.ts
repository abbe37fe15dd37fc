import { readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { parseAddress } from '../ip-prefix/address.js';

/**
 * Datagrams the kernel dropped for a UDP socket — its receive queue was full (or the memory limit
 * of the protocol was reached) — as the `drops` column of /proc/net/udp and /proc/net/udp6 shows
 * them (net/ipv4/udp.c udp4_format_sock: sk_drops), found by the socket's inode. Those files list
 * the sockets of the reader's own network namespace, where the front's sockets are.
 */

/** The inode of the socket behind descriptor `fd` (/proc/self/fd/N → `socket:[N]`), or undefined. */
export function socketInode(fd: number): number | undefined {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Drops by inode, from one read of /proc/net/udp and /proc/net/udp6: `ours` for the sockets in
 * `inodes` (a set, or a map keyed by inode) that are open now; `bound` for every other socket of
 * this namespace bound to `boundTo` or to the wildcard address on its port — another process's
 * sockets (Unbound's, one per thread with so-reuseport). `bound` is empty when `boundTo.host` is
 * not an IP literal.
 */
export function udpDrops(
  inodes: { has(inode: number): boolean; readonly size: number },
  boundTo?: { readonly host: string; readonly port: number },
): { ours: Map<number, number>; bound: Map<number, number> } {
  const ours = new Map<number, number>();
  const bound = new Map<number, number>();
  const want = boundTo === undefined ? undefined : parseAddress(boundTo.host)?.words;
  if (inodes.size === 0 && want === undefined) return { ours, bound };
  for (const f of socketRows()) {
    const inode = Number(f[9]);
    const drops = Number(f[12] ?? 0);
    if (inodes.has(inode)) ours.set(inode, drops);
    else if (want !== undefined && boundTo !== undefined && boundHere(f[1] ?? '', want, boundTo.port)) bound.set(inode, drops);
  }
  return { ours, bound };
}

/** Whether a /proc/net/udp local address (`hex:port`) is `want` (parseAddress's words) or the wildcard, on `port`. */
function boundHere(local: string, want: Uint32Array, port: number): boolean {
  const colon = local.indexOf(':');
  if (Number.parseInt(local.slice(colon + 1), 16) !== port) return false;
  const words = hexWords(local.slice(0, colon));
  return words.every((w) => w === 0) || (words.length === want.length && words.every((w, i) => w === want[i]));
}

/** The rows of /proc/net/udp and /proc/net/udp6, split into fields: sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops. */
function socketRows(): string[][] {
  const rows: string[][] = [];
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) if (line.trim() !== '') rows.push(line.trim().split(/\s+/));
  }
  return rows;
}

/**
 * A local address as /proc/net/udp prints it — each 32-bit word of the network-order address
 * with %08X, so byte-swapped on a little-endian host (net/ipv4/udp.c udp4_format_sock,
 * net/ipv6/datagram.c __ip6_dgram_sock_seq_show) — as parseAddress's words.
 */
function hexWords(hex: string): number[] {
  const words: number[] = [];
  for (let i = 0; i + 8 <= hex.length; i += 8) {
    const n = Number.parseInt(hex.slice(i, i + 8), 16);
    words.push(LITTLE ? (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0 : n);
  }
  return words;
}

const LITTLE = endianness() === 'LE';
