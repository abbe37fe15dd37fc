import { closeSync, openSync, readlinkSync, statSync } from 'node:fs';
import { AF_NETLINK, CLONE_NEWNET, EAGAIN, EINTR, errnoText, libc, MSG_DONTWAIT, NETLINK_CAP_ACK, NETLINK_NETFILTER, SO_RCVBUFFORCE, SO_SNDBUFFORCE, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK, SOL_SOCKET } from './libc.js';
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
 */

const SELF_NS = '/proc/thread-self/ns/net';
const RCVBUF = 4 * 1024 * 1024;
const RECV_CHUNK = 256 * 1024;

export class NfnlError extends Error {
  constructor(message: string, readonly errno: number) {
    super(message);
  }
}

function setInt(fd: number, level: number, name: number, value: number): number {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  return libc().setsockopt(fd, level, name, v, 4);
}

function openSocket(): number {
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
  setInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
  // Errors of a big batch must not overflow the receive queue (ENOBUFS would lose the verdict).
  setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF);
  return fd;
}

/** Creates the socket inside /run/netns/NAME (see the class comment for why this is safe). */
function openSocketIn(netns: string): number {
  const c = libc();
  const target = openSync(`/run/netns/${netns}`, 'r');
  const home = openSync(SELF_NS, 'r');
  try {
    if (c.setns(target, CLONE_NEWNET) < 0) {
      const e = c.errno();
      throw new NfnlError(`setns(/run/netns/${netns}): ${errnoText(e)}`, e);
    }
    try {
      return openSocket();
    } finally {
      if (c.setns(home, CLONE_NEWNET) < 0) throw new Error(`netlink: cannot return the main thread to its network namespace: ${errnoText(c.errno())}`);
    }
  } finally {
    closeSync(target);
    closeSync(home);
  }
}

/** Identity of the main thread's current network namespace (`net:[4026531840]`), for tests. */
export const currentNetns = (): string => readlinkSync(SELF_NS);

export class NfnlSocket {
  private seq = Math.floor(Date.now() / 1000) & 0x7fffffff;
  private closed = false;
  private readonly rx = Buffer.allocUnsafe(RECV_CHUNK);
  private sndbuf = 0;

  private constructor(
    /** The socket itself, for a dump reader (nl-dump.ts) that receives message by message. */
    readonly fd: number,
    /** inode of /run/netns/NAME when opened: a deleted and re-created namespace gets a new one. */
    readonly nsIno: bigint | undefined,
  ) {}

  static open(netns?: string): NfnlSocket {
    if (netns === undefined) return new NfnlSocket(openSocket(), undefined);
    const ino = statSync(`/run/netns/${netns}`, { bigint: true }).ino;
    return new NfnlSocket(openSocketIn(netns), ino);
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
  async request(msg: Buffer, opts: { offThread?: boolean } = {}): Promise<NlResponse[]> {
    if (this.closed) throw new Error('netlink: socket closed');
    const c = libc();
    // netlink_sendmsg() refuses a datagram over sk_sndbuf - 32 with EMSGSIZE; root may force it (nft does, mnl_set_sndbuffer).
    if (msg.length + 4096 > this.sndbuf) {
      this.sndbuf = Math.max(msg.length + 64 * 1024, 1 << 20);
      setInt(this.fd, SOL_SOCKET, SO_SNDBUFFORCE, this.sndbuf);
    }
    for (;;) {
      const r = opts.offThread ? await c.sendAsync(this.fd, msg, msg.length, 0) : c.send(this.fd, msg, msg.length, 0);
      if (r >= 0) break;
      const e = opts.offThread ? 0 : c.errno();
      if (e === EINTR) continue;
      throw new NfnlError(`send(netlink, ${msg.length} bytes): ${e ? errnoText(e) : 'failed'}`, e);
    }
    return this.drain();
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
    this.closed = true;
    libc().close(this.fd);
  }
}
