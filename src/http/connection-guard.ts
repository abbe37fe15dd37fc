import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { longestIdle } from '../lib/net/eviction.js';

/**
 * A cap on the HTTP listener's connections that keeps file descriptors for the rest of the daemon.
 *
 * Why: without one, ~8.3k idle connections to the metrics port used up the unit's
 * `LimitNOFILE=8192`, and DNS-over-TCP accepts, list refreshes and snapshot writes failed with
 * EMFILE until they closed. node's `server.maxConnections` only refuses newcomers, so a few
 * hundred idle sockets would lock Prometheus and the status page out; here a newcomer at the cap
 * closes the connection idle longest (no request in progress: a keep-alive connection between
 * requests, one that never sent a byte, or one still trickling its headers), and is refused only
 * when every connection is serving a request. A client whose idle keep-alive connection is
 * closed just opens a new one (RFC 9112 §9.6 lets either side close an idle persistent connection).
 */
export interface ConnectionGuard {
  /** Connections open now. */
  open(): number;
}

export type HttpCloseReason = 'evicted' | 'refused';

interface Tracked {
  /** Requests being served on this connection (pipelined ones count once each). */
  active: number;
  /** performance.now() when the connection was accepted or last finished a response. */
  lastIdle: number;
}

export function guardConnections(server: Server, maxConnections: number, onClose: (reason: HttpCloseReason) => void): ConnectionGuard {
  const conns = new Map<Socket, Tracked>();

  function evictOne(): boolean {
    const victim = longestIdle(
      conns,
      ([, t]) => t.active > 0,
      ([, t]) => t.lastIdle,
    )?.[0];
    if (victim === undefined) return false;
    conns.delete(victim);
    victim.destroy();
    onClose('evicted');
    return true;
  }

  // Registered after node's own connection listener (createServer adds it first), so the socket
  // it just set up is destroyed cleanly when refused.
  server.on('connection', (socket: Socket) => {
    if (conns.size >= maxConnections && !evictOne()) {
      socket.destroy();
      onClose('refused');
      return;
    }
    conns.set(socket, { active: 0, lastIdle: performance.now() });
    socket.once('close', () => conns.delete(socket));
  });
  server.on('request', (req, res) => {
    const t = conns.get(req.socket);
    if (t === undefined) return;
    t.active++;
    res.once('close', () => {
      t.active--;
      t.lastIdle = performance.now();
    });
  });
  return { open: () => conns.size };
}
