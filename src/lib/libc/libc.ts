import { endianness } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import koffi from 'koffi';

/**
 * The few libc calls Node has no API for, through koffi: a netfilter netlink socket (no AF_NETLINK,
 * no setns in Node) and sd_notify(3)'s AF_UNIX datagram (dgram is UDP-only, net stream-only).
 * Loaded lazily: a host where koffi or libc cannot load keeps the nft CLI backend
 * (`netlinkUnavailable()` says why not) and reports sd_notify as failed.
 */

export const AF_NETLINK = 16;
export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;
/** No SIGPIPE from a send on a socket whose peer is gone (send(2)). */
export const MSG_NOSIGNAL = 0x4000;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_NETFILTER = 12;
export const CLONE_NEWNET = 0x40000000;
export const MSG_DONTWAIT = 0x40;
export const SOL_SOCKET = 1;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SOL_NETLINK = 270;
/** linux/netlink.h: errors carry only the header of the failed message, not its 64 KiB of elements. */
export const NETLINK_CAP_ACK = 10;
/** linux/netlink.h: join a multicast group by number (nl_groups in bind() covers only groups 1–32 as a bitmask). */
export const NETLINK_ADD_MEMBERSHIP = 1;
/** linux/netlink.h: leave it again (the kernel then stops counting the socket as a listener: netlink_update_listeners). */
export const NETLINK_DROP_MEMBERSHIP = 2;
/** linux/netfilter/nfnetlink.h: the group every nf_tables change is notified on. */
export const NFNLGRP_NFTABLES = 7;
export const EAGAIN = 11;
export const EINTR = 4;
/** recv() on a netlink socket whose receive queue overflowed: notifications were dropped (netlink_overrun). */
export const ENOBUFS = 105;

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  /** The same call on a libuv threadpool thread (koffi `.async`), for batches that take the kernel a while. */
  sendAsync(fd: number, buf: Buffer, len: number, flags: number): Promise<number>;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  /** recv(2) on a libuv threadpool thread; errno is lost there (a -1 is retried on the main thread to learn it). */
  recvAsync(fd: number, buf: Buffer, len: number, flags: number): Promise<number>;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  /** Fills `addr` (a sockaddr_nl: nl_pid at offset 4 is the socket's portid); `len` is a 4-byte in/out length. */
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  setns(fd: number, nstype: number): number;
  close(fd: number): number;
  errno(): number;
}

let cached: Libc | { error: string } | undefined;

function load(): Libc | { error: string } {
  try {
    const lib = koffi.load('libc.so.6');
    const socket = lib.func('int socket(int, int, int)');
    const bind = lib.func('int bind(int, void *, uint32_t)');
    const send = lib.func('intptr_t send(int, void *, size_t, int)');
    const recv = lib.func('intptr_t recv(int, _Out_ void *, size_t, int)');
    const sendto = lib.func('intptr_t sendto(int, void *, size_t, int, void *, uint32_t)');
    const setsockopt = lib.func('int setsockopt(int, int, int, void *, uint32_t)');
    const getsockname = lib.func('int getsockname(int, void *, void *)');
    const setns = lib.func('int setns(int, int)');
    const close = lib.func('int close(int)');
    return {
      socket: (d, t, p) => socket(d, t, p) as number,
      bind: (fd, a, l) => bind(fd, a, l) as number,
      send: (fd, b, l, f) => Number(send(fd, b, l, f)),
      sendAsync: (fd, b, l, f) =>
        new Promise((resolve, reject) => {
          // errno is thread-local: read it on the worker, right after the call, through the return value.
          send.async(fd, b, l, f, (err: unknown, r: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(Number(r))));
        }),
      recv: (fd, b, l, f) => Number(recv(fd, b, l, f)),
      recvAsync: (fd, b, l, f) =>
        new Promise((resolve, reject) => {
          recv.async(fd, b, l, f, (err: unknown, r: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(Number(r))));
        }),
      sendto: (fd, b, l, f, a, al) => Number(sendto(fd, b, l, f, a, al)),
      setsockopt: (fd, lv, n, v, l) => setsockopt(fd, lv, n, v, l) as number,
      getsockname: (fd, a, l) => getsockname(fd, a, l) as number,
      setns: (fd, t) => setns(fd, t) as number,
      close: (fd) => close(fd) as number,
      errno: () => koffi.errno(),
    };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

export function libc(): Libc {
  cached ??= load();
  if ('error' in cached) throw new Error(`netlink: cannot load libc through koffi: ${cached.error}`);
  return cached;
}

/** undefined when the netlink backend can run here, else why not. */
export function netlinkUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'netlink needs Linux';
  // nlmsghdr/nlattr are host byte order and nl-writer.ts writes little-endian: refuse big-endian hosts.
  if (endianness() !== 'LE') return 'the netlink encoder is little-endian only';
  cached ??= load();
  return 'error' in cached ? cached.error : undefined;
}

/** `ENOENT (no such file or directory)` for errno 2. */
export function errnoText(errno: number): string {
  const e = getSystemErrorMap().get(-Math.abs(errno));
  return e ? `${e[0]} (${e[1]})` : `errno ${errno}`;
}
