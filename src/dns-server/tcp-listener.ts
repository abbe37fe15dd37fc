import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DnsMetrics, TcpCloseReason } from './metrics.js';
import type { QueryHandler, ReplyChannel } from './query-handler.js';
import { feedFrames, FrameSplitter } from '../lib/net/dns-tcp-framing.js';
import { longestIdle } from '../lib/net/eviction.js';

export interface TcpLimits {
  /** Open connections at most; at the cap the longest-idle one makes room, or the new one is closed. */
  readonly maxConnections: number;
  /**
   * RFC 7766 §6.2.3: close a connection idle this long. Idle = no complete message received and no
   * reply sent; bytes of an unfinished message do not count as activity.
   */
  readonly idleTimeoutMs: number;
  /** A message whose first byte (of its length prefix) arrived must be complete within this. */
  readonly messageTimeoutMs: number;
  /** Per-connection pipelined queries in flight (RFC 7766 §6.2.1.2); beyond it we stop reading. */
  readonly maxInFlightPerConnection: number;
}

/** Stop reading a connection whose unread replies pile up past this (a client that never reads). */
const MAX_UNSENT_BYTES = 256 * 1024;

interface Conn {
  readonly socket: Socket;
  readonly frames: FrameSplitter;
  inFlight: number;
  peerEnded: boolean;
  /** performance.now() of the last complete message or reply: what idleness is measured from. */
  lastUseful: number;
  /** performance.now() when the unfinished message now buffered began; undefined between messages. */
  partialSince: number | undefined;
}

/**
 * A `net.Server` with `allowHalfOpen` (a client that sends its query and half-closes still gets
 * the answer) feeding length-prefixed messages (RFC 1035 §4.2.2) to the query handler, which
 * answers a message it cannot parse with FORMERR; connections and pipelined queries per
 * connection are capped. (dns2's `TCPServer` once held this server; its connection path
 * destroyed a connection on a parse error, capped nothing and re-concatenated its buffer on every
 * chunk, so none of it was left in use.)
 *
 * Slow clients (RFC 7766 §6.2.3–§6.2.4: a server should manage its connections so that clients
 * cannot exhaust them, and may close idle ones): node's `socket.setTimeout` restarts on every
 * byte, so a client trickling one byte every few seconds held a slot forever and 256 of them
 * locked Unbound out. Here idleness restarts only on whole messages and replies, an unfinished
 * message has its own deadline, and a new connection at the cap evicts the connection that has
 * been idle (or stuck in an unfinished message) the longest — only one with nothing in flight, so
 * an answer someone waits for is never cut off. Unbound sends whole messages, so it always gets in.
 */
export class TcpListener implements ReplyChannel<Conn> {
  readonly tcp = true;
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly handler: QueryHandler,
    private readonly limits: TcpLimits,
    private readonly metrics: DnsMetrics,
    private readonly logger: Logger,
  ) {
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  private accept(socket: Socket): void {
    if (this.conns.size >= this.limits.maxConnections && !this.evictOne()) {
      socket.on('error', () => {});
      socket.destroy();
      this.metrics.tcpClosed('refused');
      return;
    }
    const conn: Conn = { socket, frames: new FrameSplitter(), inFlight: 0, peerEnded: false, lastUseful: performance.now(), partialSince: undefined };
    this.conns.add(conn);
    this.metrics.tcpConnections(this.conns.size);
    this.startSweeper();
    socket.setNoDelay(true);
    socket.on('error', (err) => this.logger.debug({ err }, 'dns-server: tcp connection error'));
    socket.on('close', () => {
      this.conns.delete(conn);
      this.metrics.tcpConnections(this.conns.size);
      if (this.conns.size === 0) this.stopSweeper();
    });
    feedFrames(
      socket,
      conn.frames,
      () => this.pump(conn),
      () => (conn.peerEnded = true),
    );
  }

  /** Take as many messages as the in-flight cap allows, then decide whether to keep reading. */
  private pump(conn: Conn): void {
    const { socket, frames } = conn;
    if (socket.destroyed) return;
    while (conn.inFlight < this.limits.maxInFlightPerConnection) {
      const msg = frames.shift();
      if (msg === undefined) break;
      conn.inFlight++;
      conn.lastUseful = performance.now();
      conn.partialSince = undefined;
      this.handler.handle(msg, this, conn);
    }
    // A message counts as started once its first byte is buffered; frames held back by the
    // in-flight cap are complete and wait on us, not on the client, so they start no deadline.
    if (!frames.partial() || conn.inFlight >= this.limits.maxInFlightPerConnection) conn.partialSince = undefined;
    else conn.partialSince ??= performance.now();
    if (conn.peerEnded) {
      // Half-closed by the peer: answer what is in flight, then close our side too. With nothing
      // in flight the loop above has taken every complete frame, so leftovers are a broken frame
      // (a lying length prefix, a half-sent message).
      if (conn.inFlight > 0) return;
      if (frames.partial()) {
        this.metrics.malformed('tcp-framing');
        socket.destroy();
      } else {
        socket.end();
      }
      return;
    }
    const busy = conn.inFlight >= this.limits.maxInFlightPerConnection || socket.writableLength > MAX_UNSENT_BYTES;
    if (busy && !socket.isPaused()) socket.pause();
    else if (!busy && socket.isPaused()) socket.resume();
  }

  reply(conn: Conn, msg: Buffer | undefined): void {
    conn.inFlight--;
    conn.lastUseful = performance.now();
    const { socket } = conn;
    if (socket.destroyed) return;
    if (msg !== undefined && socket.writable) socket.write(msg);
    this.pump(conn);
  }

  /** Why `conn` should be closed now, if it should. */
  private expired(conn: Conn, now: number): TcpCloseReason | undefined {
    if (conn.partialSince !== undefined && now - conn.partialSince >= this.limits.messageTimeoutMs) return 'message-timeout';
    // In flight or not: lookups are bounded by mdns.timeoutMs (~1 s), so a connection with neither
    // a message nor a reply for the idle timeout has a stuck peer or a stuck resolve behind it.
    if (now - conn.lastUseful >= this.limits.idleTimeoutMs) return 'idle-timeout';
    return undefined;
  }

  /**
   * At the cap: close the connection with nothing in flight that has been idle longest (an
   * unfinished message counts as idle since the last whole one). False when every connection
   * waits for an answer: then the newcomer is refused instead.
   */
  private evictOne(): boolean {
    const victim = longestIdle(
      this.conns,
      (c) => c.inFlight > 0 || c.socket.destroyed,
      (c) => c.lastUseful,
    );
    if (victim === undefined) return false;
    this.drop(victim, 'evicted');
    return true;
  }

  private drop(conn: Conn, reason: TcpCloseReason): void {
    // Destroy, not end: a peer that never closes would otherwise hold the socket half-open.
    conn.socket.destroy();
    // 'close' is emitted on a later tick; leave the set now so the slot is free for the newcomer.
    this.conns.delete(conn);
    this.metrics.tcpConnections(this.conns.size);
    this.metrics.tcpClosed(reason);
  }

  /**
   * One timer for all connections (at most `maxConnections`, so a sweep is cheap), running only
   * while some are open; its period bounds how late a deadline is enforced.
   */
  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    const period = Math.max(20, Math.min(1000, Math.floor(Math.min(this.limits.idleTimeoutMs, this.limits.messageTimeoutMs) / 5)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.conns) {
        const reason = this.expired(c, now);
        if (reason !== undefined) this.drop(c, reason);
      }
    }, period);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Listen; rejects with the socket error. */
  listenOn(host: string, port: number): Promise<number> {
    const server = this.server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host, port, exclusive: true, backlog: 511 }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger.warn({ err }, 'dns-server: tcp server error'));
        const addr = server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  shutdown(): Promise<void> {
    this.stopSweeper();
    for (const conn of this.conns) conn.socket.destroy();
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
