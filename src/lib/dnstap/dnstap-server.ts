import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { SidecarError } from '../../errors.js';
import { decodeDnstap, type DnstapDecodeError, type DnstapMessage } from './dnstap-decode.js';
import { DEFAULT_MAX_FRAME_BYTES, DNSTAP_CONTENT_TYPE, FrameStreamSession, type FrameStreamError, type SessionEnd } from './frame-stream.js';

/**
 * The unix socket Unbound's dnstap writer connects to (`dnstap-socket-path`). Unbound is the
 * client; it reconnects by itself after a restart or a dropped connection (dtio backs off and
 * retries), so a reconnect is simply a new connection with a new handshake. Nothing a peer sends
 * can throw out of here: protocol violations drop that connection and are counted, undecodable
 * frames are counted and skipped, and the listener keeps accepting.
 */

export type DnstapErrorReason =
  | FrameStreamError
  | DnstapDecodeError
  | 'callback' // onMessage threw: a bug in the consumer, counted and survived
  | 'too-many-connections'
  | 'handshake-timeout'
  | 'socket'; // ECONNRESET and friends

export type ConnectionEnd = SessionEnd | { readonly kind: 'server-closed' } | { readonly kind: 'handshake-timeout' };

/** Metrics are registered by the capability; these hooks are where it counts. All optional. */
export interface DnstapServerHooks {
  connectionOpened?(id: number): void;
  connectionClosed?(id: number, end: ConnectionEnd): void;
  /** One data frame, its payload size in bytes (before decoding). */
  frame?(bytes: number): void;
  error?(reason: DnstapErrorReason): void;
}

export interface DnstapServerOptions {
  readonly socketPath: string;
  /** Socket file mode; default 0o660 — Unbound runs as another user and needs write permission. */
  readonly mode?: number;
  /** Group to chown the socket to (e.g. Unbound's gid), so mode 0660 lets it in. */
  readonly gid?: number;
  readonly maxFrameBytes?: number;
  /** Concurrent writers; default 8 (Unbound opens one per dnstap thread, not per worker thread). */
  readonly maxConnections?: number;
  /** READY→START must complete within this; default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Every decoded dnstap Message, synchronously, in arrival order per connection. */
  readonly onMessage: (message: DnstapMessage, connection: number) => void;
  readonly hooks?: DnstapServerHooks;
}

export interface DnstapCounters {
  connectionsAccepted: number;
  connectionsOpen: number;
  frames: number;
  bytes: number;
  messages: number;
  errors: Partial<Record<DnstapErrorReason, number>>;
}

export interface DnstapServer {
  readonly socketPath: string;
  /** A snapshot (for tests and `status`). */
  counters(): DnstapCounters;
  /** Stops listening, drops every connection, removes the socket file. */
  close(): Promise<void>;
}

export async function startDnstapServer(opts: DnstapServerOptions): Promise<DnstapServer> {
  const path = opts.socketPath;
  const hooks = opts.hooks ?? {};
  const maxConnections = opts.maxConnections ?? 8;
  const handshakeMs = opts.handshakeTimeoutMs ?? 10_000;
  const c: DnstapCounters = { connectionsAccepted: 0, connectionsOpen: 0, frames: 0, bytes: 0, messages: 0, errors: {} };
  const sockets = new Map<Socket, number>();
  let nextId = 1;
  let closing = false;

  const error = (reason: DnstapErrorReason): void => {
    c.errors[reason] = (c.errors[reason] ?? 0) + 1;
    safe(() => hooks.error?.(reason));
  };

  const onConnection = (socket: Socket): void => {
    socket.on('error', () => undefined); // reported through 'close' below
    if (closing || sockets.size >= maxConnections) {
      error('too-many-connections');
      socket.destroy();
      return;
    }
    const id = nextId++;
    sockets.set(socket, id);
    c.connectionsAccepted++;
    c.connectionsOpen++;
    safe(() => hooks.connectionOpened?.(id));
    let ended: ConnectionEnd | undefined;
    let sawError = false;
    // A peer that connects and never completes READY/START would hold a slot forever. After
    // START, silence is normal (no client queries), so the timer only guards the handshake.
    const timer = setTimeout(() => {
      if (ended !== undefined || session.finished || session.streaming) return;
      error('handshake-timeout');
      ended = { kind: 'handshake-timeout' };
      socket.destroy();
    }, handshakeMs);
    timer.unref();

    const session = new FrameStreamSession(
      {
        write: (bytes) => {
          socket.write(bytes);
        },
        data: (payload) => {
          c.frames++;
          c.bytes += payload.length;
          safe(() => hooks.frame?.(payload.length));
          const d = decodeDnstap(payload);
          if (d.kind === 'error') return error(d.reason);
          c.messages++;
          try {
            opts.onMessage(d.message, id);
          } catch {
            error('callback');
          }
        },
        end: (outcome) => {
          clearTimeout(timer);
          ended ??= outcome;
          if (outcome.kind === 'error') {
            if (outcome.reason !== 'truncated' || !sawError) error(outcome.reason);
            socket.destroy();
          } else if (outcome.kind === 'finished') {
            socket.end(); // after FINISH is flushed (fstrm: the reader closes after FINISH)
          } else {
            socket.destroy();
          }
        },
      },
      { contentType: DNSTAP_CONTENT_TYPE, maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES },
    );

    socket.on('data', (chunk: Buffer) => {
      try {
        session.push(chunk);
      } catch {
        // Unreachable by design (the session validates everything); a bug must not kill the daemon.
        error('bad-control');
        socket.destroy();
      }
    });
    socket.on('end', () => session.eof());
    socket.on('close', (hadError) => {
      if (hadError && ended === undefined) {
        sawError = true;
        error('socket');
      }
      session.eof();
      clearTimeout(timer);
      sockets.delete(socket);
      c.connectionsOpen--;
      safe(() => hooks.connectionClosed?.(id, closing && ended === undefined ? { kind: 'server-closed' } : (ended ?? { kind: 'closed' })));
    });
  };

  await removeStaleSocket(path);
  const server = createServer({ allowHalfOpen: false }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SidecarError('LISTEN_FAILED', 'dnstap', `cannot listen on ${path}: ${err.message}`, { cause: err })));
    server.listen(path, () => resolve());
  });
  server.on('error', () => undefined); // after listen, accept errors (EMFILE) must not crash the daemon
  try {
    await chmod(path, opts.mode ?? 0o660);
    if (opts.gid !== undefined) await chown(path, -1, opts.gid);
  } catch (err) {
    await closeServer(server, sockets);
    throw new SidecarError('LISTEN_FAILED', 'dnstap', `cannot set permissions on ${path}: ${(err as Error).message}`, { cause: err });
  }

  return {
    socketPath: path,
    counters: () => ({ ...c, errors: { ...c.errors } }),
    async close() {
      if (closing) return;
      closing = true;
      await closeServer(server, sockets);
      await unlink(path).catch(() => undefined);
    },
  };
}

/** A socket left by a previous run (crash, SIGKILL) makes listen() fail with EADDRINUSE; anything else at the path is not ours to delete. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return;
  if (!st.isSocket()) throw new SidecarError('LISTEN_FAILED', 'dnstap', `${path} exists and is not a socket; refusing to replace it`);
  await unlink(path);
}

async function closeServer(server: Server, sockets: Map<Socket, number>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of sockets.keys()) s.destroy();
  await closed;
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // a throwing metrics hook must not take the connection down
  }
}
