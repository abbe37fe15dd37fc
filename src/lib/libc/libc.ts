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
/** A u64 naming the socket's network namespace, never reused until reboot (Linux 5.14+, include/uapi/asm-generic/socket.h). */
export const SO_NETNS_COOKIE = 71;
export const SOL_NETLINK = 270;
/** linux/netlink.h: errors carry only the header of the failed message, not its 64 KiB of elements. */
export const NETLINK_CAP_ACK = 10;
/** linux/netlink.h: join a multicast group by number (nl_groups in bind() covers only groups 1–32 as a bitmask). */
export const NETLINK_ADD_MEMBERSHIP = 1;
/** linux/netlink.h: leave it again (the kernel then stops counting the socket as a listener: netlink_update_listeners). */
export const NETLINK_DROP_MEMBERSHIP = 2;
/** linux/netfilter/nfnetlink.h: the group every nf_tables change is notified on. */
export const NFNLGRP_NFTABLES = 7;
/** linux/udp.h: UDP generic segmentation offload, a cmsg (or socket option) at level SOL_UDP. */
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
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
  /** Fills `val`; `len` is a 4-byte in/out length (socklen_t). */
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: Buffer): number;
  /** Fills `addr` (a sockaddr_nl: nl_pid at offset 4 is the socket's portid); `len` is a 4-byte in/out length. */
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  setns(fd: number, nstype: number): number;
  /** sendmmsg(2) on a vector of `struct mmsghdr` at a native address (see `nativeArena`). */
  sendmmsg(fd: number, vec: bigint, count: number, flags: number): number;
  /** recvmmsg(2) into a vector of `struct mmsghdr` at a native address, no timeout. */
  recvmmsg(fd: number, vec: bigint, count: number, flags: number): number;
  close(fd: number): number;
  /** sched_yield(2): let another runnable thread on this CPU run first (a polite busy-wait). */
  schedYield(): number;
  errno(): number;
}

type LibcLoad = { kind: 'loaded'; libc: Libc } | { kind: 'failed'; error: string };
let cached: LibcLoad | undefined;

function load(): LibcLoad {
  try {
    const lib = koffi.load('libc.so.6');
    const socket = lib.func('int socket(int, int, int)');
    const bind = lib.func('int bind(int, void *, uint32_t)');
    const send = lib.func('intptr_t send(int, void *, size_t, int)');
    const recv = lib.func('intptr_t recv(int, _Out_ void *, size_t, int)');
    const sendto = lib.func('intptr_t sendto(int, void *, size_t, int, void *, uint32_t)');
    const setsockopt = lib.func('int setsockopt(int, int, int, void *, uint32_t)');
    const getsockname = lib.func('int getsockname(int, void *, void *)');
    const getsockopt = lib.func('int getsockopt(int, int, int, _Out_ void *, _Inout_ void *)');
    const setns = lib.func('int setns(int, int)');
    const sendmmsg = lib.func('int sendmmsg(int, uintptr_t, unsigned int, int)');
    const recvmmsg = lib.func('int recvmmsg(int, uintptr_t, unsigned int, int, uintptr_t)');
    const close = lib.func('int close(int)');
    const schedYield = lib.func('int sched_yield(void)');
    const libc: Libc = {
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
      getsockopt: (fd, lv, n, v, l) => getsockopt(fd, lv, n, v, l) as number,
      setns: (fd, t) => setns(fd, t) as number,
      sendmmsg: (fd, v, c, f) => sendmmsg(fd, v, c, f) as number,
      recvmmsg: (fd, v, c, f) => recvmmsg(fd, v, c, f, 0) as number,
      close: (fd) => close(fd) as number,
      schedYield: () => schedYield() as number,
      errno: () => koffi.errno(),
    };
    return { kind: 'loaded', libc };
  } catch (err) {
    return { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
  }
}

export function libc(): Libc {
  cached ??= load();
  if (cached.kind === 'failed') throw new Error(`netlink: cannot load libc through koffi: ${cached.error}`);
  return cached.libc;
}

/** setsockopt(2) with an `int` option value; 0, or -1 with errno set. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): number {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  return libc().setsockopt(fd, level, name, v, 4);
}

/** undefined when the netlink backend can run here, else why not. */
export function netlinkUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'netlink needs Linux';
  // nlmsghdr/nlattr are host byte order and nl-writer.ts writes little-endian: refuse big-endian hosts.
  if (endianness() !== 'LE') return 'the netlink encoder is little-endian only';
  cached ??= load();
  return cached.kind === 'failed' ? cached.error : undefined;
}

/** `ENOENT (no such file or directory)` for errno 2. */
export function errnoText(errno: number): string {
  const e = getSystemErrorMap().get(-Math.abs(errno));
  return e ? `${e[0]} (${e[1]})` : `errno ${errno}`;
}

/**
 * Native memory that syscalls may point into: `bytes` is a view of it, `address` its start, for
 * structures that hold pointers (struct mmsghdr, struct iovec). Freed by `free()`, never by the GC.
 */
export interface NativeArena {
  readonly bytes: Buffer;
  readonly address: bigint;
  free(): void;
}

export function nativeArena(size: number): NativeArena {
  libc(); // throws the load error first
  const ptr: unknown = koffi.alloc('uint8_t', size);
  const bytes = Buffer.from(koffi.view(ptr, size));
  let freed = false;
  return {
    bytes,
    address: koffi.address(ptr),
    free: () => {
      if (!freed) koffi.free(ptr);
      freed = true;
    },
  };
}

/** sizeof / offsetof of the C structures the batch sender builds, from koffi's own layout rules (32- and 64-bit alike). */
export interface MsghdrLayout {
  mmsghdr: number;
  msgName: number;
  msgNamelen: number;
  msgIov: number;
  msgIovlen: number;
  msgControl: number;
  msgControllen: number;
  msgFlags: number;
  msgLen: number;
  iovec: number;
  iovLen: number;
  pointer: number;
}
let layout: MsghdrLayout | undefined;

export function msghdrLayout(): MsghdrLayout {
  libc();
  if (layout) return layout;
  const iovec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' });
  const msghdr = koffi.struct({ msg_name: 'void *', msg_namelen: 'uint32_t', msg_iov: 'void *', msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' });
  const mmsghdr = koffi.struct({ msg_hdr: msghdr, msg_len: 'unsigned int' });
  layout = {
    mmsghdr: koffi.sizeof(mmsghdr),
    msgName: koffi.offsetof(msghdr, 'msg_name'),
    msgNamelen: koffi.offsetof(msghdr, 'msg_namelen'),
    msgIov: koffi.offsetof(msghdr, 'msg_iov'),
    msgIovlen: koffi.offsetof(msghdr, 'msg_iovlen'),
    msgControl: koffi.offsetof(msghdr, 'msg_control'),
    msgControllen: koffi.offsetof(msghdr, 'msg_controllen'),
    msgFlags: koffi.offsetof(msghdr, 'msg_flags'),
    msgLen: koffi.offsetof(mmsghdr, 'msg_len'),
    iovec: koffi.sizeof(iovec),
    iovLen: koffi.offsetof(iovec, 'iov_len'),
    pointer: koffi.sizeof('void *'),
  };
  return layout;
}
