import type { Socket } from 'node:dgram';
import { EAGAIN, EINTR, MSG_DONTWAIT } from '../libc/libc.js';
import { createMmsgVector, mmsgUnavailable, socketFd, SOCKADDR_BYTES, type MmsgVector } from './mmsg-vector.js';
import { copyOut, SockaddrNames, type UdpPeer } from './sockaddr.js';
import { errnoError, IDLE_MS } from './udp-batch.js';

/**
 * Reads what else is queued on a dgram socket in recvmmsg(2) calls, from inside its 'message'
 * handler: dgram hands over one datagram per libuv read (a fresh 64 KiB allocation, a
 * RemoteInfo with its address formatted, an event emit — per datagram, the larger part of a
 * relay's CPU in a profile); under load the rest of the queue comes in here, up to `slots` per
 * syscall into native memory, each datagram copied out at its own size. libuv's next read
 * then finds the queue empty and goes back to epoll. A socket whose previous datagram came more
 * than IDLE_MS ago is not drained at all: on a quiet router there is no queue behind a datagram,
 * and the EAGAIN-returning call would only add latency (measured ~0.05 ms at p50 on an idle vCPU).
 *
 * Needs koffi + libc and a little-endian host (`mmsgUnavailable`); without them `drain` does
 * nothing and dgram reads every datagram itself.
 */

export interface UdpDrain {
  /** Calls `each` for every datagram queued now (at most `maxRounds × slots`). Errors go to `onError` (ECONNREFUSED on a connected socket, as dgram's 'error' would). */
  drain(each: (msg: Buffer, from: UdpPeer) => void, onError: (err: NodeJS.ErrnoException) => void): void;
  /**
   * Waits awake: reads the socket (recvmmsg, non-blocking) in a loop until `done()` or `micros`
   * pass, yielding the CPU between reads (sched_yield: a thread that would run here — the peer
   * being waited for, on a small machine — runs first). True when `done()`; false at the bound;
   * undefined when it cannot read here (closed, or no fast path).
   */
  busyWait(each: (msg: Buffer, from: UdpPeer) => void, onError: (err: NodeJS.ErrnoException) => void, done: () => boolean, micros: number): boolean | undefined;
  /** Call before `socket.close()`. */
  close(): void;
  counts(): { drained: number; calls: number };
}

const MSG_TRUNC = 0x20;
const GONE = { read: -1, full: false } as const;
const NONE = { read: 0, full: false } as const;

export function createUdpDrain(
  socket: Socket,
  opts: {
    readonly enabled?: boolean;
    readonly idleMs?: number;
    readonly slots: number;
    readonly slotBytes: number;
    readonly maxRounds: number;
    readonly connected: boolean;
    /**
     * Hand `each` a view of the datagram in native memory instead of a copy: valid only until
     * `each` returns (for a handler that copies what it keeps, like a relay whose sender copies).
     */
    readonly views?: boolean;
    readonly onTruncated?: () => void;
  },
): UdpDrain {
  let v: { vec: MmsgVector; fd: number; open: () => boolean } | undefined | null;
  const names = new SockaddrNames();
  const stats = { drained: 0, calls: 0 };
  const none: UdpPeer = { address: '', family: 'IPv4', port: 0, size: 0 };
  let last = 0;

  function setup(): typeof v {
    if (opts.enabled === false || mmsgUnavailable() !== undefined) return null;
    const sfd = socketFd(socket);
    return sfd === undefined ? null : { vec: createMmsgVector(opts.slots, opts.slotBytes), ...sfd };
  }

  /**
   * One recvmmsg(2) into the vector, each datagram handed to `each`: how many it read (0: none
   * queued, or an error reported), or -1 when the socket is gone or the fast path is unavailable.
   * `full`: it filled every slot (more may be queued).
   */
  function round(each: (msg: Buffer, from: UdpPeer) => void, onError: (err: NodeJS.ErrnoException) => void): { read: number; full: boolean } {
    if (v === undefined) v = setup();
    if (!v?.open()) return GONE;
    const { vec, fd } = v;
    for (let i = 0; i < vec.slots; i++) {
      vec.setLength(i, vec.slotBytes);
      vec.setNameLength(i, opts.connected ? 0 : SOCKADDR_BYTES);
    }
    stats.calls++;
    let r = vec.lc.recvmmsg(fd, vec.entry(0), vec.slots, MSG_DONTWAIT);
    if (r < 0 && vec.lc.errno() === EINTR) r = vec.lc.recvmmsg(fd, vec.entry(0), vec.slots, MSG_DONTWAIT);
    if (r < 0) {
      const errno = vec.lc.errno();
      if (errno !== EAGAIN && errno !== EINTR) onError(errnoError(errno, 'recvmmsg'));
      return NONE;
    }
    for (let i = 0; i < r; i++) {
      const len = vec.received(i);
      if ((vec.flags(i) & MSG_TRUNC) !== 0) {
        opts.onTruncated?.();
        continue;
      }
      const at = vec.dataAt(i);
      const from = opts.connected ? none : names.peer(vec.bytes, vec.nameAt(i), vec.nameLength(i), len);
      if (from === undefined) continue;
      stats.drained++;
      each(opts.views === true ? vec.bytes.subarray(at, at + len) : copyOut(vec.bytes, at, len), from);
      if (!v.open()) return GONE; // the handler closed the socket
    }
    return { read: r, full: r === vec.slots };
  }

  return {
    drain(each, onError) {
      const t = performance.now();
      const quiet = t - last > (opts.idleMs ?? IDLE_MS);
      last = t;
      if (quiet) return;
      for (let n = 0; n < opts.maxRounds; n++) if (!round(each, onError).full) return;
    },
    busyWait(each, onError, done, micros) {
      const until = performance.now() + micros / 1000;
      for (;;) {
        const r = round(each, onError);
        if (r.read < 0) return done() ? true : undefined;
        if (r.read > 0) last = performance.now();
        if (done()) return true;
        if (performance.now() >= until) return false;
        v?.vec.lc.schedYield();
      }
    },
    close() {
      if (v) v.vec.free();
      v = null;
    },
    counts: () => ({ ...stats }),
  };
}
