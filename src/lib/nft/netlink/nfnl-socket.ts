import { closeSync, openSync, readlinkSync, statSync } from 'node:fs';
import {
  AF_NETLINK,
  CLONE_NEWNET,
  EAGAIN,
  EINTR,
  ENOBUFS,
  errnoText,
  libc,
  MSG_DONTWAIT,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_CAP_ACK,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_NETFILTER,
  SO_NETNS_COOKIE,
  SO_RCVBUFFORCE,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  setsockoptInt,
} from '../../libc/libc.js';
import { parseResponses, type NlResponse } from './nl-writer.js';

/**
 * One NETLINK_NETFILTER socket, optionally inside a named network namespace.
 *
 * Namespaces: a socket belongs to the namespace of the thread that created it (sock_net() is fixed
 * at socket(2) time), and setns(2) with CLONE_NEWNET switches only the *calling thread*. So we
 * switch the main thread into /run/netns/NAME, create the socket and switch straight back, all in
 * one synchronous stretch of JS: no other JS (and so no other socket, DNS listener or child
 * spawn) can run on the main thread in between, and libuv's threadpool and V8's helper threads
 * never leave their namespace. If switching back failed the process would be silently in the wrong
 * namespace, so that is thrown as a bug-level Error. Tested in test/integration/nft-netlink.test.ts.
 *
 * Requests are synchronous in the kernel: netlink_unicast() to a kernel socket runs nfnetlink_rcv()
 * in the sender's context (net/netlink/af_netlink.c netlink_unicast_kernel), so every ACK/error of
 * a batch is queued on our socket by the time send(2) returns, and we drain with MSG_DONTWAIT.
 *
 * Deadlines: that send(2) can wait as long as another process holds the nf_tables commit mutex
 * (nfnetlink_rcv_batch takes nfnl_lock(NFNL_SUBSYS_NFTABLES)) — ~41 s was seen on a loaded
 * machine. So sends run on a libuv threadpool thread by default (the event loop keeps serving DNS)
 * and race a deadline; on expiry the request rejects with NfnlTimeout and the socket is abandoned:
 * never used again, closed once the stuck call returns (closing earlier could hand the fd number
 * to another file while the kernel still writes the verdict to it). At most MAX_STUCK sends may be
 * stuck at once (each holds one of libuv's 4 threads, which fs and dns.lookup also need); beyond
 * that a request fails at once.
 */

const SELF_NS = '/proc/thread-self/ns/net';
const RCVBUF = 4 * 1024 * 1024;
const RECV_CHUNK = 256 * 1024;
/**
 * Deadline of one netlink request. A bounded transaction (16k elements) commits in ~0.1 s here
 * (src/set-sync/README.md); one was seen to take ~41 s on a loaded machine, with every later write
 * waiting behind it. 15 s is > 100× the normal time — a request still running then is stuck, not
 * slow — and leaves the repair (readback + rewrite) well inside the 30 s systemd watchdog period.
 */
export const DEFAULT_DEADLINE_MS = 15_000;
const MAX_STUCK = 2;
let stuck = 0;

export class NfnlError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

/** The request's deadline passed; its socket has been abandoned (the transaction may still commit). */
export class NfnlTimeout extends NfnlError {
  constructor(message: string) {
    super(message, 110 /* ETIMEDOUT */);
  }
}

/** Sends running on the threadpool past their deadline (for tests and status). */
export const stuckSends = (): number => stuck;

/** What a socket is for: requests (ACKs only), or a subscriber to NFNLGRP_NFTABLES with a fixed receive buffer. */
export interface SocketRole {
  readonly group?: number;
  readonly rcvbuf?: number;
}

function openSocket(role: SocketRole = {}): number {
  const c = libc();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) throw new NfnlError(`socket(AF_NETLINK, NETLINK_NETFILTER): ${errnoText(c.errno())}`, c.errno());
  // sockaddr_nl { nl_family = AF_NETLINK, nl_pad, nl_pid = 0 (kernel assigns), nl_groups = 0 }
  const sa = Buffer.alloc(12);
  sa.writeUInt16LE(AF_NETLINK, 0);
  if (c.bind(fd, sa, 12) < 0) {
    const e = c.errno();
    c.close(fd);
    throw new NfnlError(`bind(netlink): ${errnoText(e)}`, e);
  }
  setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
  // Errors of a big batch must not overflow the receive queue (ENOBUFS would lose the verdict).
  // A subscriber's buffer bounds what the kernel queues for us (sock_rmem_schedule): the kernel
  // doubles the value (sock_setsockopt), and beyond it drops notifications and flags ENOBUFS.
  setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, role.rcvbuf ?? RCVBUF);
  if (role.group !== undefined && setsockoptInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, role.group) < 0) {
    const e = c.errno();
    c.close(fd);
    throw new NfnlError(`setsockopt(NETLINK_ADD_MEMBERSHIP, ${role.group}): ${errnoText(e)}`, e);
  }
  return fd;
}

/** The socket's netlink portid (nl_pid of getsockname): what the kernel puts in nlmsg_pid of notifications of changes this socket sent. */
function portidOf(fd: number): number {
  const c = libc();
  const sa = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  if (c.getsockname(fd, sa, len) < 0) throw new NfnlError(`getsockname(netlink): ${errnoText(c.errno())}`, c.errno());
  return sa.readUInt32LE(4);
}

/**
 * Runs `fn` with the main thread inside /run/netns/NAME and switches straight back (see the class
 * comment for why this is safe): `fn` must be synchronous.
 */
export function inNetns<T>(netns: string, fn: () => T): T {
  const c = libc();
  const target = openSync(`/run/netns/${netns}`, 'r');
  let home: number;
  try {
    home = openSync(SELF_NS, 'r');
  } catch (err) {
    closeSync(target);
    throw err;
  }
  try {
    if (c.setns(target, CLONE_NEWNET) < 0) {
      const e = c.errno();
      throw new NfnlError(`setns(/run/netns/${netns}): ${errnoText(e)}`, e);
    }
    try {
      return fn();
    } finally {
      // biome-ignore lint/correctness/noUnsafeFinally: a main thread left in the wrong namespace must not go on as if nothing happened, whatever fn() did.
      if (c.setns(home, CLONE_NEWNET) < 0) throw new Error(`netlink: cannot return the main thread to its network namespace: ${errnoText(c.errno())}`);
    }
  } finally {
    closeSync(target);
    closeSync(home);
  }
}

/** Identity of the main thread's current network namespace (`net:[4026531840]`), for tests. */
export const currentNetns = (): string => readlinkSync(SELF_NS);

/** What one non-blocking read of a subscriber got. */
export type ReadOutcome = { kind: 'data'; bytes: Buffer } | { kind: 'empty' } | { kind: 'overflow' };

export class NfnlSocket {
  private seq = Math.floor(Date.now() / 1000) & 0x7fffffff;
  private closed = false;
  /** Past a deadline: never used again; closed when the stuck call returns. */
  private abandoned = false;
  private inFlight = false;
  private readonly rx = Buffer.allocUnsafe(RECV_CHUNK);
  private sndbuf = 0;
  readonly portid: number;

  private constructor(
    /** The socket itself, for a dump reader (nl-dump.ts) that receives message by message. */
    readonly fd: number,
    /** inode of /run/netns/NAME when opened: a deleted and re-created namespace gets a new one. */
    readonly nsIno: bigint | undefined,
  ) {
    try {
      this.portid = portidOf(fd);
    } catch (err) {
      libc().close(fd);
      throw err;
    }
  }

  static open(netns?: string, role: SocketRole = {}): NfnlSocket {
    if (netns === undefined) return new NfnlSocket(openSocket(role), undefined);
    const ino = statSync(`/run/netns/${netns}`, { bigint: true }).ino;
    return new NfnlSocket(
      inNetns(netns, () => openSocket(role)),
      ino,
    );
  }

  /** SO_RCVBUFFORCE (the kernel doubles it); false when refused. */
  setRcvbuf(bytes: number): boolean {
    return !this.closed && setsockoptInt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) === 0;
  }

  /** Joins (true) or leaves a multicast group; false when refused. */
  setMembership(group: number, member: boolean): boolean {
    return !this.closed && setsockoptInt(this.fd, SOL_NETLINK, member ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, group) === 0;
  }

  /**
   * SO_NETNS_COOKIE: the namespace's id for this boot (net/core/net_namespace.c gives each one the
   * next value of a 64-bit counter, so a deleted and re-created namespace never repeats one, unlike
   * its inode). Hex of its bytes in host order (only ever compared); undefined before Linux 5.14.
   */
  netnsCookie(): string | undefined {
    if (this.closed) return undefined;
    const v = Buffer.alloc(8);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(8);
    if (libc().getsockopt(this.fd, SOL_SOCKET, SO_NETNS_COOKIE, v, len) < 0 || len.readUInt32LE(0) !== 8) return undefined;
    return v.toString('hex');
  }

  /** False once closed or abandoned: open a fresh one. */
  get usable(): boolean {
    return !this.closed && !this.abandoned;
  }

  /** Reserves `n` consecutive sequence numbers. */
  nextSeq(n: number): number {
    const s = this.seq;
    this.seq = (this.seq + n) & 0x7fffffff;
    return s;
  }

  /**
   * Sends one datagram (a whole batch: nfnetlink processes one skb as one transaction, so a batch
   * must not be split across sends) and returns every response the kernel queued for it.
   */
  async request(msg: Buffer, opts: { offThread?: boolean; deadlineMs?: number; sendAsync?: typeof sendOffThread } = {}): Promise<NlResponse[]> {
    if (!this.usable) throw new Error('netlink: socket closed');
    if (this.inFlight) throw new Error('netlink: one request at a time per socket');
    const c = libc();
    // netlink_sendmsg() refuses a datagram over sk_sndbuf - 32 with EMSGSIZE; root may force it (nft does, mnl_set_sndbuffer).
    if (msg.length + 4096 > this.sndbuf) {
      this.sndbuf = Math.max(msg.length + 64 * 1024, 1 << 20);
      setsockoptInt(this.fd, SOL_SOCKET, SO_SNDBUFFORCE, this.sndbuf);
    }
    const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const offThread = opts.offThread ?? true;
    for (;;) {
      let r: number;
      if (offThread) {
        r = await this.sendWithDeadline(msg, deadlineMs, opts.sendAsync ?? sendOffThread);
      } else {
        // A call on the main thread cannot be interrupted (and no timer can fire while it runs):
        // its deadline is checked when it returns, and an overrun counts as a timeout all the same.
        const t0 = performance.now();
        r = c.send(this.fd, msg, msg.length, 0);
        if (performance.now() - t0 > deadlineMs) {
          this.abandon();
          throw new NfnlTimeout(`netlink: send of ${msg.length} bytes took longer than ${deadlineMs} ms (on the main thread); socket abandoned`);
        }
      }
      if (r >= 0) break;
      const e = offThread ? 0 : c.errno();
      if (e === EINTR) continue;
      throw new NfnlError(`send(netlink, ${msg.length} bytes): ${e ? errnoText(e) : 'failed'}`, e);
    }
    return this.drain();
  }

  private sendWithDeadline(msg: Buffer, deadlineMs: number, send: typeof sendOffThread): Promise<number> {
    if (stuck >= MAX_STUCK) {
      this.abandon();
      return Promise.reject(new NfnlTimeout(`netlink: ${stuck} earlier requests are still stuck in the kernel past their deadline; not sending another`));
    }
    this.inFlight = true;
    const call = send(this.fd, msg);
    return new Promise<number>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        stuck++;
        this.abandon();
        reject(new NfnlTimeout(`netlink: no answer to a ${msg.length}-byte request within ${deadlineMs} ms; socket abandoned (the kernel may still apply it)`));
      }, deadlineMs);
      const settle = (): void => {
        clearTimeout(timer);
        this.inFlight = false;
        if (late) stuck--;
        if (this.abandoned) this.close();
      };
      call.then(
        (r) => {
          settle();
          if (!late) resolve(r);
        },
        (err: unknown) => {
          settle();
          if (!late) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Never used again; the fd is closed now, or when a call still running on it returns. */
  private abandon(): void {
    this.abandoned = true;
    if (!this.inFlight) this.close();
  }

  /**
   * One non-blocking read of a subscriber socket. `overflow`: the receive queue was full and the
   * kernel dropped notifications (netlink_overrun sets sk_err = ENOBUFS, reported once by recv).
   */
  read(): ReadOutcome {
    if (this.closed) return { kind: 'empty' };
    const c = libc();
    for (;;) {
      const n = c.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT);
      if (n > 0) return { kind: 'data', bytes: this.rx.subarray(0, n) };
      if (n === 0) return { kind: 'empty' };
      const e = c.errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return { kind: 'empty' };
      if (e === ENOBUFS) return { kind: 'overflow' };
      throw new NfnlError(`recv(netlink): ${errnoText(e)}`, e);
    }
  }

  private drain(): NlResponse[] {
    const c = libc();
    const out: NlResponse[] = [];
    for (;;) {
      const n = c.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT);
      if (n < 0) {
        const e = c.errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) return out;
        throw new NfnlError(`recv(netlink): ${errnoText(e)}`, e);
      }
      if (n === 0) return out;
      // Copy: the next recv reuses the buffer.
      for (const r of parseResponses(Buffer.from(this.rx.subarray(0, n)))) out.push(r);
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.inFlight) {
      this.abandoned = true; // closed by the call's settle
      return;
    }
    this.closed = true;
    libc().close(this.fd);
  }
}

/** The real off-thread send (tests inject a slow one to exercise the deadline). */
export function sendOffThread(fd: number, msg: Buffer): Promise<number> {
  return libc().sendAsync(fd, msg, msg.length, 0);
}
