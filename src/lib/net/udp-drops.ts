import { readFileSync, readlinkSync } from 'node:fs';

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

/** Drops by inode for the sockets in `inodes` (a set, or a map keyed by inode) that are open now (the others are absent). */
export function udpDrops(inodes: { has(inode: number): boolean; readonly size: number }): Map<number, number> {
  const out = new Map<number, number>();
  if (inodes.size === 0) return out;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
      const f = line.trim().split(/\s+/);
      const inode = Number(f[9]);
      if (inodes.has(inode)) out.set(inode, Number(f[12] ?? 0));
    }
  }
  return out;
}
