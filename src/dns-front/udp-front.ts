import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { PROXY_V2_MIN_PAD, padProxyV2, proxyV2Header } from '../lib/net/proxy-v2.js';
import { socketFd } from '../lib/net/mmsg-vector.js';
import { setReceiveBuffer } from '../lib/net/receive-buffer.js';
import { socketInode, udpDrops } from '../lib/net/udp-drops.js';
import type { UdpPeer } from '../lib/net/sockaddr.js';
import { createUdpBatchSender, type UdpBatchSender } from '../lib/net/udp-batch.js';
import { createUdpDrain, type UdpDrain } from '../lib/net/udp-drain.js';
import type { ClientAcl } from './client-acl.js';
import type { InsertGate } from './insert-gate.js';
import { classify, localReply, REFUSED, SERVFAIL } from './local-reply.js';
import type { FrontMetrics, SocketDrops, UpstreamSends } from './metrics.js';

/**
 * DNS over UDP: client datagrams in on the listen sockets, out to Unbound on ONE connected upstream
 * socket (so the kernel only delivers Unbound's datagrams to it). Many clients share that socket,
 * so each query gets an upstream ID free among those in flight and the client's own ID is written
 * back into the answer — the only bytes of Unbound's answer we change (flags, EDNS, TC, DNSSEC
 * records pass untouched; an answer Unbound truncated for the client's buffer stays TC=1).
 *
 * With `proxyProtocol`, each datagram carries a PROXYv2 header (UDP: one per datagram, spec §2.2)
 * naming the client and the address it asked, so Unbound's access-control, logs and dnstap see
 * the client, not the front.
 */

export interface UdpFrontOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly proxyProtocol: boolean;
  readonly acl: ClientAcl;
  readonly gate: InsertGate;
  /** Queries waiting for Unbound at once, at most (beyond: dropped). Capped below the 16-bit ID space. */
  readonly maxInflight: number;
  /** Of those, at most this many from one client address. */
  readonly maxInflightPerClient: number;
  readonly upstreamTimeoutMs: number;
  /** recvmmsg/sendmmsg (lib/net/udp-batch.ts, udp-drain.ts); false: dgram alone. */
  readonly batching: boolean;
  /** Queries to Unbound in one segmented message per batch (config.ts udpSegmentation); needs batching and proxyProtocol. */
  readonly segmentation: boolean;
  /** Receive buffer asked for each socket (lib/net/receive-buffer.ts); 0: the system default. */
  readonly receiveBufferBytes: number;
  /** How long to wait awake for the answer to a query that went to Unbound alone (config.ts busyPollMicros); 0: sleep. */
  readonly busyPollMicros: number;
  readonly metrics: FrontMetrics;
  readonly logger: Logger;
}

interface Pending {
  /** Ours, on the upstream socket. */
  readonly id: number;
  readonly clientId: number;
  readonly client: UdpPeer;
  readonly query: Buffer;
  /** End of the query's question section (undefined for opcodes other than QUERY). */
  readonly questionEnd: number | undefined;
  readonly listenerSender: UdpBatchSender;
  readonly sentAt: number;
}

interface Listener {
  readonly socket: Socket;
  readonly sender: UdpBatchSender;
  readonly drain: UdpDrain;
  readonly host: string;
  readonly port: number;
  /** PROXYv2 headers by client address (the source port is patched per query). */
  readonly headers: Map<string, Buffer>;
}

const MAX_CACHED_HEADERS = 4096;

/** Leave room in the 16-bit ID space so a free ID is found in a few random draws. */
const MAX_IDS = 60_000;

export class UdpFront {
  private readonly listeners: Listener[] = [];
  /** In flight, in the order sent: with one timeout for all, the oldest is the first to expire. */
  private readonly pending = new Map<number, Pending>();
  private upstream: { socket: Socket; sender: UdpBatchSender; drain: UdpDrain } | undefined;
  private sweep: NodeJS.Timeout | undefined;
  /** Queries in flight per client address (maxInflightPerClient). */
  private readonly perClient = new Map<string, number>();
  private readonly cap: number;

  constructor(private readonly o: UdpFrontOptions) {
    this.cap = Math.min(o.maxInflight, MAX_IDS);
  }

  /** The upstream socket and the timeout sweep; listeners come with `listen`. */
  async start(): Promise<void> {
    const upIPv6 = isIPv6(this.o.upstream.host);
    const up = createSocket({ type: upIPv6 ? 'udp6' : 'udp4' });
    // Answers can be as large as the client's EDNS buffer allows (RFC 6891 §6.2.5): 64 KiB slots.
    // Views, not copies: fromUpstream copies an answer it must keep past its own return.
    const upDrain = createUdpDrain(up, { enabled: this.o.batching, slots: 32, slotBytes: 65_536, maxRounds: 4, connected: true, views: true });
    // Segmented: each query's PROXYv2 header can grow to the batch's largest without changing what it says.
    const segment = this.o.segmentation && this.o.proxyProtocol ? { pad: padProxyV2, minPad: PROXY_V2_MIN_PAD } : undefined;
    this.upstream = { socket: up, sender: createUdpBatchSender(up, { ipv6: upIPv6, enabled: this.o.batching, ...(segment ? { segment } : {}) }), drain: upDrain };
    // A connected socket: ICMP port-unreachable from a stopped Unbound comes back as ECONNREFUSED.
    up.on('error', (err: NodeJS.ErrnoException) => this.upstreamError(err));
    up.on('message', (msg) => {
      this.fromUpstream(msg);
      upDrain.drain(this.upEach, this.upError);
    });
    await new Promise<void>((resolve, reject) => {
      up.once('error', reject);
      up.connect(this.o.upstream.port, this.o.upstream.host, () => {
        up.off('error', reject);
        resolve();
      });
    });
    // Unbound answers a burst of queries in a burst of its own.
    this.prepare(up, 'upstream', 'upstream');
  }

  /**
   * One timer for every query: a sweep every tenth of the timeout (a query times out between
   * upstreamTimeoutMs and 1.1 × that), instead of a timer set and cleared per query. It runs only
   * while queries are in flight: an idle front wakes nobody.
   */
  private startSweep(): void {
    const every = Math.max(5, Math.floor(this.o.upstreamTimeoutMs / 10));
    this.sweep = setInterval(() => this.expire(performance.now()), every);
    this.sweep.unref();
  }

  /** Binds one listen address; rejects with the bind error (EADDRNOTAVAIL, EADDRINUSE, EACCES …). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const ipv6 = isIPv6(host);
    const socket = createSocket({ type: ipv6 ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: host, port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.on('error', (err) => this.o.logger.warn({ err }, 'dns-front: udp socket error'));
    this.prepare(socket, 'listener', `${host}:${port}`);
    // A query beyond 4 KiB does not occur (clients send one question, RFC 9619); one is dropped as malformed.
    const drain = createUdpDrain(socket, {
      enabled: this.o.batching,
      slots: 64,
      slotBytes: 4096,
      maxRounds: 4,
      connected: false,
      onTruncated: () => this.o.metrics.dropped.inc({ reason: 'malformed' }),
    });
    const bound: Listener = { socket, sender: createUdpBatchSender(socket, { ipv6, enabled: this.o.batching }), drain, host, port: socket.address().port, headers: new Map() };
    const each = (m: Buffer, from: UdpPeer): void => this.fromClient(bound, m, from);
    const drainError = (err: NodeJS.ErrnoException): void => this.o.logger.warn({ err }, 'dns-front: udp socket error');
    socket.on('message', (msg, rinfo) => {
      this.fromClient(bound, msg, rinfo);
      drain.drain(each, drainError);
    });
    this.listeners.push(bound);
    return { host, port: bound.port };
  }

  private bufferCapped = false;
  /** Socket inodes, for the kernel's drop counts (lib/net/udp-drops.ts). */
  private readonly inodes = new Map<number, SocketDrops['role']>();

  /** Every socket, once bound or connected: its receive buffer sized, its inode noted for the drop counts. */
  private prepare(socket: Socket, role: SocketDrops['role'], which: string): void {
    const fd = socketFd(socket)?.fd;
    const inode = fd === undefined ? undefined : socketInode(fd);
    if (inode !== undefined) {
      this.inodes.set(inode, role);
      socket.once('close', () => this.inodes.delete(inode));
    }
    this.sizeReceiveBuffer(socket, which);
  }

  /**
   * The kernel's drop count of each open socket now, with its role (read at scrape time): the
   * front's own, and Unbound's on the upstream port — a burst the front forwarded can still
   * overflow Unbound's queue (its so-rcvbuf), and the client then sees the front's SERVFAIL.
   */
  kernelDrops(): SocketDrops[] {
    const { ours, bound } = udpDrops(this.inodes, this.o.upstream);
    const all: SocketDrops[] = [...ours].map(([inode, drops]) => ({ inode, role: this.inodes.get(inode) ?? 'listener', drops }));
    for (const [inode, drops] of bound) all.push({ inode, role: 'unbound', drops });
    return all;
  }

  /** The smallest receive buffer the kernel granted a front socket (SO_RCVBUF as it reports it), and whether one was capped. */
  receiveBuffer(): { bytes: number | undefined; capped: boolean } {
    return { bytes: this.smallestBuffer, capped: this.bufferCapped };
  }

  private smallestBuffer: number | undefined;

  private sizeReceiveBuffer(socket: Socket, which: string): void {
    const want = this.o.receiveBufferBytes;
    const got = want === 0 ? { bytes: socket.getRecvBufferSize() } : setReceiveBuffer(socket, want);
    this.smallestBuffer = Math.min(this.smallestBuffer ?? got.bytes, got.bytes);
    if (want === 0) return;
    // The kernel reports twice what it was asked (receive-buffer.ts): below that, it was capped.
    if (got.bytes >= 2 * want || this.bufferCapped) return;
    this.bufferCapped = true;
    this.o.logger.warn(
      { socket: which, askedBytes: want, gotBytes: got.bytes },
      `dns-front: UDP receive buffer is ${got.bytes} bytes, not ${2 * want}: net.core.rmem_max caps it without CAP_NET_ADMIN, and a burst of more than ~${Math.floor(got.bytes / 1024)} queries is dropped by the kernel; raise net.core.rmem_max (sysctl) or grant CAP_NET_ADMIN`,
    );
  }

  /** Closes the listener `listen` returned (its TCP twin could not be bound). */
  async unlisten(host: string, port: number): Promise<void> {
    const i = this.listeners.findIndex((l) => l.host === host && l.port === port);
    const [l] = i < 0 ? [] : this.listeners.splice(i, 1);
    if (l !== undefined) await closeListener(l);
  }

  private expire(now: number): void {
    const limit = now - this.o.upstreamTimeoutMs;
    for (const [id, p] of this.pending) {
      if (p.sentAt > limit) break;
      this.fail(id);
    }
    if (this.pending.size === 0) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  addresses(): { host: string; port: number }[] {
    return this.listeners.map(({ host, port }) => ({ host, port }));
  }

  inflight(): number {
    return this.pending.size;
  }

  /** How the upstream socket's datagrams left, since start (for the metrics). */
  upstreamSends(): UpstreamSends {
    return this.upstream?.sender.counts() ?? { segmented: 0, batched: 0, fallback: 0 };
  }

  private fromClient(l: Listener, msg: Buffer, rinfo: UdpPeer): void {
    const { metrics } = this.o;
    const v = classify(msg);
    if (v.kind === 'drop') return metrics.dropped.inc({ reason: v.reason });
    if (!this.o.acl.allows(rinfo.address)) {
      metrics.refused.inc({ transport: 'udp' });
      return this.send(l.sender, rinfo, localReply(msg, REFUSED));
    }
    if (v.kind === 'reply') return this.send(l.sender, rinfo, v.msg);
    if (this.pending.size >= this.cap) return metrics.dropped.inc({ reason: 'over-inflight' });
    const mine = this.perClient.get(rinfo.address) ?? 0;
    if (mine >= this.o.maxInflightPerClient) return metrics.dropped.inc({ reason: 'client-over-inflight' });
    const up = this.upstream;
    if (up === undefined) return;
    let id = (Math.random() * 0x10000) | 0;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const clientId = msg.readUInt16BE(0);
    const questionEnd = v.kind === 'forward' ? v.questionEnd : undefined;
    this.perClient.set(rinfo.address, mine + 1);
    const entry: Pending = { id, clientId, listenerSender: l.sender, client: rinfo, query: msg, questionEnd, sentAt: performance.now() };
    this.pending.set(id, entry);
    if (this.sweep === undefined) this.startSweep();
    // The sender copies the datagram before returning: the ID is ours only for that moment, and
    // the client's query is kept as it came (its SERVFAIL is built from it; fail() restores the
    // client's ID too, for an error reported from inside send()).
    msg.writeUInt16BE(id, 0);
    let parts = this.one;
    if (this.o.proxyProtocol) {
      parts = this.two;
      parts[0] = this.header(l, rinfo);
      parts[1] = msg;
    } else parts[0] = msg;
    const alone = up.sender.send(parts, undefined, this.upstreamSendFailed, entry);
    msg.writeUInt16BE(clientId, 0);
    if (alone && this.pending.size === 1 && this.o.busyPollMicros > 0) this.busyPoll(up.drain, entry);
  }

  /**
   * The query went out alone on an idle front: wait for its answer awake (recvmmsg in a loop, as
   * the kernel's net.core.busy_poll does for a NIC queue) rather than sleep in epoll until it
   * arrives. Asleep, the answer costs a wake-up on both sides — Unbound's send interrupts an idle
   * CPU and this thread is scheduled back in — tens of microseconds on a VM, and a lone query (a
   * quiet router) pays it on every answer. Bounded by busyPollMicros; the event loop waits that
   * long at most, and only when nothing else was in flight.
   */
  private busyPoll(drain: UdpDrain, entry: Pending): void {
    const settled = (): boolean => this.pending.get(entry.id) !== entry;
    const answered = drain.busyWait(this.upEach, this.upError, settled, this.o.busyPollMicros);
    if (answered === undefined) return; // no fast path here (udpBatching off, or koffi missing): sleep as before
    if (answered) this.o.metrics.busyPolls.answered.inc();
    else if (!settled()) this.o.metrics.busyPolls.expired.inc();
  }

  private readonly upEach = (m: Buffer): void => this.fromUpstream(m);
  private readonly upError = (err: NodeJS.ErrnoException): void => this.upstreamError(err);

  /** The parts of one datagram, reused (the sender copies them before it returns). */
  private readonly one: Buffer[] = [Buffer.alloc(0)];
  private readonly two: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];

  private readonly upstreamSendFailed = (err: NodeJS.ErrnoException, entry: Pending): void => {
    if (err.code === 'ECONNREFUSED') return this.upstreamError(err);
    // A late error (dgram's fallback send) must not fail a newer query that drew the same ID.
    if (this.pending.get(entry.id) === entry) this.fail(entry.id);
  };

  /** The PROXYv2 header for this client and listener; the cached one with the source port patched. */
  private header(l: Listener, rinfo: UdpPeer): Buffer {
    let h = l.headers.get(rinfo.address);
    if (h === undefined) {
      h = proxyV2Header('udp', rinfo, { address: l.host, port: l.port });
      if (l.headers.size >= MAX_CACHED_HEADERS) l.headers.clear();
      l.headers.set(rinfo.address, h);
    }
    // Source port: the 2 bytes after both addresses (proxy-v2.ts writes src port at 16 + 2 × address size).
    h.writeUInt16BE(rinfo.port, h.length - 4);
    return h;
  }

  /** `msg` may be a view of the drain's native slot: read (and patched) here, copied only to be kept. */
  private fromUpstream(msg: Buffer): void {
    if (msg.length < 12 || ((msg[2] as number) & 0x80) === 0) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (p === undefined) return this.o.metrics.dropped.inc({ reason: 'late-answer' });
    // An ID is free again once its query timed out: a late answer to that query must not reach the
    // client whose query drew the same ID since. Unbound echoes the question as asked (RFC 1035
    // §4.1.1), so it must match byte for byte — when there is one: some errors carry none (the
    // REFUSED of access-control, Unbound's worker.c deny_refuse, has QDCOUNT 0).
    if (p.questionEnd !== undefined && !sameQuestion(msg, p.query, p.questionEnd)) return this.o.metrics.dropped.inc({ reason: 'late-answer' });
    this.settled(id, p);
    const now = performance.now();
    this.o.metrics.upstreamDuration.udp.observe((now - p.sentAt) / 1000);
    msg.writeUInt16BE(p.clientId, 0);
    const wait = this.o.gate.check(msg, now);
    if (wait === undefined) return this.send(p.listenerSender, p.client, msg);
    const kept = Buffer.from(msg);
    void wait.then((v) => this.send(p.listenerSender, p.client, v === 'relay' ? kept : localReply(p.query, SERVFAIL)));
  }

  /** Unbound did not (or could not) answer: SERVFAIL now, never a hang. */
  private fail(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.settled(id, p);
    p.query.writeUInt16BE(p.clientId, 0); // an error from inside send() comes while our ID is in it
    this.o.metrics.upstreamTimeouts.inc({ transport: 'udp' });
    this.send(p.listenerSender, p.client, localReply(p.query, SERVFAIL));
  }

  private settled(id: number, p: Pending): void {
    this.pending.delete(id);
    const n = (this.perClient.get(p.client.address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(p.client.address);
    else this.perClient.set(p.client.address, n);
  }

  private upstreamError(err: NodeJS.ErrnoException): void {
    // ECONNREFUSED: nobody listens on the upstream port (Unbound stopped or restarting). Every
    // query in flight went to the void; answer them now rather than at the timeout.
    if (err.code === 'ECONNREFUSED') {
      for (const id of [...this.pending.keys()]) this.fail(id);
      return;
    }
    this.o.logger.warn({ err }, 'dns-front: upstream udp socket error');
  }

  private send(sender: UdpBatchSender, to: UdpPeer, msg: Buffer | undefined): void {
    if (msg === undefined) return;
    this.one[0] = msg;
    sender.send(this.one, to, this.sendFailed);
    this.o.metrics.answered('udp', msg);
  }

  private readonly sendFailed = (err: NodeJS.ErrnoException): void => {
    this.o.logger.debug({ err }, 'dns-front: udp send failed');
  };

  async stop(): Promise<void> {
    clearInterval(this.sweep);
    this.sweep = undefined;
    this.pending.clear();
    this.perClient.clear();
    await Promise.all(this.listeners.splice(0).map(closeListener));
    const up = this.upstream;
    this.upstream = undefined;
    if (up) {
      up.sender.close();
      up.drain.close();
      await new Promise<void>((r) => up.socket.close(() => r()));
    }
  }
}

/** The sender first (it flushes what is queued and lets go of the descriptor), then its socket. */
function closeListener(l: Listener): Promise<void> {
  l.sender.close();
  l.drain.close();
  return new Promise<void>((r) => l.socket.close(() => r()));
}

function sameQuestion(answer: Buffer, query: Buffer, end: number): boolean {
  if (answer.readUInt16BE(4) === 0) return true;
  if (answer.length < end || answer.readUInt16BE(4) !== query.readUInt16BE(4)) return false;
  // A byte loop: the question is tens of bytes, and two subarrays for `equals` cost more than it.
  for (let i = 12; i < end; i++) if (answer[i] !== query[i]) return false;
  return true;
}
