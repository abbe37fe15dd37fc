import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { feedFrames, FrameSplitter } from '../lib/net/dns-tcp-framing.js';
import { longestIdle } from '../lib/net/eviction.js';
import { proxyV2Header } from '../lib/net/proxy-v2.js';
import type { ClientAcl } from './client-acl.js';
import type { InsertGate } from './insert-gate.js';
import { classify, localReply, REFUSED, SERVFAIL } from './local-reply.js';
import type { FrontMetrics } from './metrics.js';

/**
 * DNS over TCP (RFC 7766): one upstream connection to Unbound per client connection, opened at
 * the client's first query and started with one PROXYv2 header (spec §2.2: on a stream the
 * header comes once, first). Pipelined queries are forwarded as they arrive; answers are matched
 * back by ID (RFC 7766 §7: they may come in any order) and written as Unbound sent them.
 *
 * Bounded: `maxConnections` (at the cap the longest-idle connection with nothing in flight makes
 * room, else the newcomer is closed), MAX_PIPELINE queries in flight per connection (then we stop
 * reading it), unread answers capped by `maxBufferedBytes` (see `write`), and a connection with no
 * whole message and no answer for `idleTimeoutMs` is closed — bytes of an unfinished message do not
 * count, so a slow-drip client cannot hold a slot (RFC 7766 §6.2.3).
 */

export interface TcpFrontOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly proxyProtocol: boolean;
  readonly acl: ClientAcl;
  readonly gate: InsertGate;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  /** Unsent answer bytes one connection may hold: from half of it its queries are not read; over it, closed. */
  readonly maxBufferedBytes: number;
  readonly upstreamTimeoutMs: number;
  readonly metrics: FrontMetrics;
  readonly logger: Logger;
}

/** Per-connection pipelined queries in flight (RFC 7766 §6.2.1.2); beyond it we stop reading. */
const MAX_PIPELINE = 64;
/** Forwarded bytes Unbound has not taken yet; beyond it the client is not read. */
const MAX_UNSENT_UPSTREAM_BYTES = 256 * 1024;

interface Entry {
  readonly query: Buffer;
  readonly sentAt: number;
  readonly timer: NodeJS.Timeout;
}

interface Conn {
  readonly socket: Socket;
  readonly frames: FrameSplitter;
  readonly allowed: boolean;
  upstream: Socket | undefined;
  upFrames: FrameSplitter;
  /** By client ID; a list because a client may (wrongly) reuse an ID in flight. */
  readonly pending: Map<number, Entry[]>;
  inFlight: number;
  peerEnded: boolean;
  lastUseful: number;
  /** Not read because its answers are not read (counted once per episode). */
  slowReader: boolean;
}

export class TcpFront {
  private readonly servers: { server: Server; host: string; port: number }[] = [];
  private readonly conns = new Set<Conn>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Unsent bytes from which a connection's queries are not read: half the cap leaves the other
   * half for the answers to what is already in flight. */
  private readonly readLimit: number;

  constructor(private readonly o: TcpFrontOptions) {
    this.readLimit = Math.floor(o.maxBufferedBytes / 2);
  }

  start(): void {
    const period = Math.max(20, Math.min(1000, Math.floor(this.o.idleTimeoutMs / 5)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** Listens on one address; rejects with the bind error (EADDRNOTAVAIL, EADDRINUSE, EACCES …). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    // 'drain' (which resumes a client paused for unread answers) comes only after a write() that
    // returned false, i.e. with the buffer at the high-water mark: keep that mark at most the limit.
    const server = createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: Math.min(16 * 1024, this.readLimit) }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true, backlog: 511 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.logger.warn({ err }, 'dns-front: tcp server error'));
    const a = server.address();
    const bound = { server, host, port: typeof a === 'object' && a !== null ? a.port : port };
    this.servers.push(bound);
    return { host, port: bound.port };
  }

  /** Unsent answer bytes over every connection (a gauge, read at scrape time). */
  unsentBytes(): number {
    let n = 0;
    for (const c of this.conns) n += c.socket.writableLength;
    return n;
  }

  addresses(): { host: string; port: number }[] {
    return this.servers.map(({ host, port }) => ({ host, port }));
  }

  connections(): number {
    return this.conns.size;
  }

  private accept(socket: Socket): void {
    socket.on('error', (err) => this.o.logger.debug({ err }, 'dns-front: tcp client error'));
    if (this.conns.size >= this.o.maxConnections) {
      const victim = longestIdle(
        this.conns,
        (c) => c.inFlight > 0,
        (c) => c.lastUseful,
      );
      if (victim === undefined) return void socket.destroy();
      this.close(victim);
    }
    const conn: Conn = {
      socket,
      frames: new FrameSplitter(),
      allowed: this.o.acl.allows(socket.remoteAddress ?? ''),
      upstream: undefined,
      upFrames: new FrameSplitter(),
      pending: new Map(),
      inFlight: 0,
      peerEnded: false,
      lastUseful: performance.now(),
      slowReader: false,
    };
    this.conns.add(conn);
    this.o.metrics.tcpConnections.set(this.conns.size);
    feedFrames(
      socket,
      conn.frames,
      () => this.pump(conn),
      () => (conn.peerEnded = true),
    );
    socket.on('close', () => this.close(conn));
  }

  private pump(conn: Conn): void {
    const { socket, frames } = conn;
    if (socket.destroyed) return;
    while (conn.inFlight < MAX_PIPELINE && socket.writableLength < this.readLimit) {
      const msg = frames.shift();
      if (msg === undefined) break;
      const v = classify(msg);
      if (v.kind === 'drop') {
        this.o.metrics.dropped.inc({ reason: v.reason });
        if (v.reason === 'malformed') return this.close(conn); // not DNS: no point reading on
        continue;
      }
      if (!conn.allowed) {
        // One REFUSED, then the connection ends: an outsider must not keep a slot of
        // maxTcpConnections (each REFUSED would otherwise count as useful and keep it from eviction).
        this.o.metrics.refused.inc({ transport: 'tcp' });
        this.write(conn, localReply(msg, REFUSED));
        socket.end();
        return;
      }
      conn.lastUseful = performance.now();
      if (v.kind === 'reply') {
        this.write(conn, v.msg);
      } else {
        this.forward(conn, msg);
      }
    }
    if (conn.peerEnded) {
      // Half-closed: answer what is in flight and what is still queued (taken again on 'drain'
      // while the client has too much unread), then close; leftovers are a broken frame.
      if (conn.inFlight > 0 || socket.writableLength >= this.readLimit) return;
      if (frames.partial()) socket.destroy();
      else socket.end();
      return;
    }
    // Not read while its answers are not read (resumed on 'drain'), and while Unbound does not take
    // what we forwarded: either way the bytes would pile up here.
    const unread = socket.writableLength >= this.readLimit;
    if (unread && !conn.slowReader) this.o.metrics.tcpSlowReaders.paused.inc();
    conn.slowReader = unread;
    const busy = unread || conn.inFlight >= MAX_PIPELINE || (conn.upstream?.writableLength ?? 0) > MAX_UNSENT_UPSTREAM_BYTES;
    if (busy && !socket.isPaused()) socket.pause();
    else if (!busy && socket.isPaused()) socket.resume();
  }

  private forward(conn: Conn, msg: Buffer): void {
    const up = conn.upstream ?? this.openUpstream(conn);
    const id = msg.readUInt16BE(0);
    const entry: Entry = { query: msg, sentAt: performance.now(), timer: setTimeout(() => this.expire(conn, id, entry), this.o.upstreamTimeoutMs) };
    const list = conn.pending.get(id);
    if (list) list.push(entry);
    else conn.pending.set(id, [entry]);
    conn.inFlight++;
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(msg.length, 0);
    up.write(len);
    up.write(msg);
  }

  private openUpstream(conn: Conn): Socket {
    const up = connect({ host: this.o.upstream.host, port: this.o.upstream.port, noDelay: true });
    conn.upstream = up;
    conn.upFrames = new FrameSplitter();
    const frames = conn.upFrames;
    if (this.o.proxyProtocol) {
      const s = conn.socket;
      up.write(proxyV2Header('tcp', { address: s.remoteAddress ?? '0.0.0.0', port: s.remotePort ?? 0 }, { address: s.localAddress ?? '0.0.0.0', port: s.localPort ?? 0 }));
    }
    up.on('data', (chunk: Buffer) => {
      frames.push(chunk);
      for (let m = frames.shift(); m !== undefined; m = frames.shift()) this.fromUpstream(conn, m);
    });
    up.on('drain', () => this.pump(conn));
    up.on('error', (err) => this.o.logger.debug({ err }, 'dns-front: upstream tcp error'));
    up.on('close', () => {
      if (conn.upstream !== up) return;
      conn.upstream = undefined;
      // Unbound closed (restart, its tcp-idle-timeout, an error): what was in flight gets SERVFAIL now.
      for (const [id, list] of [...conn.pending]) for (const e of [...list]) this.expire(conn, id, e);
    });
    return up;
  }

  private take(conn: Conn, id: number, entry?: Entry): Entry | undefined {
    const list = conn.pending.get(id);
    if (list === undefined) return undefined;
    const i = entry === undefined ? 0 : list.indexOf(entry);
    if (i < 0) return undefined;
    const [e] = list.splice(i, 1);
    if (list.length === 0) conn.pending.delete(id);
    if (e) clearTimeout(e.timer);
    return e;
  }

  private fromUpstream(conn: Conn, msg: Buffer): void {
    if (msg.length < 12) return;
    const e = this.take(conn, msg.readUInt16BE(0));
    if (e === undefined) return this.o.metrics.dropped.inc({ reason: 'late-answer' });
    const now = performance.now();
    this.o.metrics.upstreamDuration.tcp.observe((now - e.sentAt) / 1000);
    const wait = this.o.gate.check(msg, now);
    if (wait === undefined) return this.answer(conn, msg);
    void wait.then((v) => this.answer(conn, v === 'relay' ? msg : localReply(e.query, SERVFAIL)));
  }

  private expire(conn: Conn, id: number, entry: Entry): void {
    if (this.take(conn, id, entry) === undefined) return;
    this.o.metrics.upstreamTimeouts.inc({ transport: 'tcp' });
    this.answer(conn, localReply(entry.query, SERVFAIL));
  }

  private answer(conn: Conn, msg: Buffer | undefined): void {
    conn.inFlight--;
    this.write(conn, msg);
    this.pump(conn);
  }

  /**
   * Past the kernel's send buffer, Node keeps every write in the process (socket.writableLength).
   * Queries are not taken while that is at half the cap (`pump`), but answers to the up to
   * MAX_PIPELINE in flight still come: one that finds more than the cap unsent closes the
   * connection (RFC 7766 §6.2.3 lets a server close; the client retries). So a connection holds
   * at most the cap + one message of unsent answers, however fast it pipelines.
   */
  private write(conn: Conn, msg: Buffer | undefined): void {
    conn.lastUseful = performance.now();
    const { socket } = conn;
    if (msg === undefined || socket.destroyed || !socket.writable) return;
    if (socket.writableLength > this.o.maxBufferedBytes) {
      this.o.metrics.tcpSlowReaders.closed.inc();
      return this.close(conn);
    }
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(msg.length, 0);
    socket.write(len);
    socket.write(msg);
    this.o.metrics.answered('tcp', msg);
  }

  private close(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    this.o.metrics.tcpConnections.set(this.conns.size);
    conn.socket.destroy();
    const up = conn.upstream;
    conn.upstream = undefined;
    up?.destroy();
    for (const list of conn.pending.values()) for (const e of list) clearTimeout(e.timer);
    conn.pending.clear();
  }

  private sweep(): void {
    const now = performance.now();
    // In flight or not: every query in flight ends by upstreamTimeoutMs, so a connection with
    // neither a message nor an answer for the idle timeout has a stuck peer behind it.
    for (const c of this.conns) if (now - c.lastUseful >= this.o.idleTimeoutMs) this.close(c);
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const c of [...this.conns]) this.close(c);
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((r) => s.server.close(() => r()))));
  }
}
