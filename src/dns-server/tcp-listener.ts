import type { Socket } from 'node:net';
import { TCPServer } from 'dns2';
import type { Logger } from 'pino';
import type { DnsMetrics } from './metrics.js';
import type { QueryHandler, ReplyChannel } from './query-handler.js';
import { FrameSplitter } from './tcp-framing.js';

export interface TcpLimits {
  /** Connections beyond this are closed at once (bounded memory). */
  readonly maxConnections: number;
  /** RFC 7766 §6.2.3: close a connection idle this long. */
  readonly idleTimeoutMs: number;
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
}

/**
 * dns2's TCP server (a `net.Server` with `allowHalfOpen`, so a client that sends its query and
 * half-closes still gets the answer) with the per-connection path replaced: dns2's `handle`
 * destroys the connection on a parse error instead of answering FORMERR, never caps connections
 * or pipelined queries, and its idle timeout only half-closes (see tcp-framing.ts).
 */
export class TcpListener extends TCPServer implements ReplyChannel<Conn> {
  readonly tcp = true;
  private readonly conns = new Set<Conn>();

  constructor(
    private readonly handler: QueryHandler,
    private readonly limits: TcpLimits,
    private readonly metrics: DnsMetrics,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Replaces dns2's `handle` (bound to 'connection' by its constructor). */
  handle(socket: Socket): void {
    if (this.conns.size >= this.limits.maxConnections) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const conn: Conn = { socket, frames: new FrameSplitter(), inFlight: 0, peerEnded: false };
    this.conns.add(conn);
    this.metrics.tcpConnections(this.conns.size);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs);
    // Destroy, not end: a peer that never closes would otherwise hold the socket half-open.
    socket.on('timeout', () => socket.destroy());
    socket.on('error', (err) => this.logger.debug({ err }, 'dns-server: tcp connection error'));
    socket.on('close', () => {
      this.conns.delete(conn);
      this.metrics.tcpConnections(this.conns.size);
    });
    socket.on('data', (chunk: Buffer) => {
      conn.frames.push(chunk);
      this.pump(conn);
    });
    socket.on('drain', () => this.pump(conn));
    socket.on('end', () => {
      conn.peerEnded = true;
      this.pump(conn);
    });
  }

  /** Take as many messages as the in-flight cap allows, then decide whether to keep reading. */
  private pump(conn: Conn): void {
    const { socket, frames } = conn;
    if (socket.destroyed) return;
    while (conn.inFlight < this.limits.maxInFlightPerConnection) {
      const msg = frames.shift();
      if (msg === undefined) break;
      conn.inFlight++;
      this.handler.handle(msg, this, conn);
    }
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
    const { socket } = conn;
    if (socket.destroyed) return;
    if (msg !== undefined && socket.writable) socket.write(msg);
    this.pump(conn);
  }

  /** Listen; rejects with the socket error (dns2 leaves that to the caller). */
  listenOn(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.once('error', onError);
      this.listen({ host, port, exclusive: true, backlog: 511 }, () => {
        this.off('error', onError);
        this.on('error', (err) => this.logger.warn({ err }, 'dns-server: tcp server error'));
        const addr = this.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  shutdown(): Promise<void> {
    for (const conn of this.conns) conn.socket.destroy();
    if (!this.listening) return Promise.resolve();
    return new Promise((resolve) => this.close(() => resolve()));
  }
}
