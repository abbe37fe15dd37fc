import type { Socket } from 'node:dgram';
import { EAGAIN, EINTR, errnoText, MSG_DONTWAIT } from '../libc/libc.js';
import { createMmsgVector, mmsgUnavailable, socketFd, type MmsgVector } from './mmsg-vector.js';
import { encodeSockaddr, type UdpPeer, writeSockaddrIn } from './sockaddr.js';

/**
 * Datagrams out of a dgram socket in batches: everything queued while the event loop handles one
 * round of input leaves in ONE sendmmsg(2) (in the check phase, after libuv's poll phase has
 * delivered every datagram it read), instead of one sendmsg each.
 *
 * Why: on loopback and veth the sender's syscall also delivers the datagram and wakes the
 * receiver, and Node's send path adds its own per-datagram work. A lone datagram (a quiet router)
 * leaves in the same event-loop turn: no added wait.
 *
 * Node has no sendmmsg (https://github.com/nodejs/node/issues/34137), so this calls libc through
 * koffi on the socket's own descriptor with MSG_DONTWAIT: the socket stays libuv's. When that
 * cannot work — koffi or libc missing, a big-endian host, no descriptor, a datagram over
 * SLOT_BYTES, or the kernel's send buffer full (EAGAIN) — the datagram goes through `socket.send`
 * as before, so behaviour never depends on the fast path.
 */

export interface UdpBatchSender {
  /**
   * Queues one datagram made of `parts` (copied now: the caller may change them, and the array,
   * once this returns). `to` undefined: the socket is connected. `onError` hears a failure of this
   * datagram, with `tag` (one handler for many datagrams: no closure per datagram). True when
   * the datagram left in this call (alone, on an idle sender; or filling the batch).
   */
  send<T>(parts: readonly Uint8Array[], to: UdpPeer | undefined, onError?: (err: NodeJS.ErrnoException, tag: T) => void, tag?: T): boolean;
  /** Datagrams sent through sendmmsg and through socket.send, the sendmmsg calls made, and the datagrams of those sent as one segmented message. */
  counts(): { batched: number; fallback: number; calls: number; segmented: number };
  /** Sends what is queued; later sends are dropped. Call it before `socket.close()`. */
  close(): void;
}

const SLOTS = 64;
/**
 * A datagram queued on a sender idle this long leaves at once instead of at the end of the
 * event-loop turn: a lone query on a quiet router gains nothing from waiting for company, and
 * measured in the front lab, the rest of the turn cost it ~0.1 ms at p50 (an idle vCPU runs cold).
 */
export const IDLE_MS = 1;
/** Bigger datagrams take socket.send (a DNS answer over UDP rarely exceeds the 1232-byte EDNS default). */
export const SLOT_BYTES = 4096;

/**
 * A batch sent as one segmented message (UDP GSO) is at most this many bytes a datagram: below any
 * path's MTU (the kernel refuses a segment that does not fit, EINVAL) and far above a query.
 */
export const MAX_SEGMENT_BYTES = 1232;

/**
 * `now`: the clock the idle rule reads (ms; tests freeze it so a slow machine cannot make a turn
 * look idle). `segment` (a connected socket only): a batch of two or more goes out as ONE
 * message the kernel cuts into datagrams (UDP_SEGMENT, udp(7)), so it crosses the sender's
 * stack — route, netfilter, conntrack, and on loopback the receiver's side too — once instead of
 * once per datagram. GSO needs every datagram but the last to be the same size: `pad` grows
 * one in place to `to` bytes without changing what it says (a PROXYv2 header's NOOP TLV,
 * proxy-v2.ts), or says it cannot (then the batch goes the usual way). A kernel without it
 * (EIO, EINVAL, ENOPROTOOPT, EOPNOTSUPP) turns it off for the socket.
 */
export function createUdpBatchSender(
  socket: Socket,
  opts: {
    readonly ipv6: boolean;
    readonly enabled?: boolean;
    readonly now?: () => number;
    readonly segment?: { readonly pad: (bytes: Buffer, at: number, len: number, to: number) => boolean; readonly minPad: number };
  },
): UdpBatchSender {
  const now = opts.now ?? (() => performance.now());
  let v: { vec: MmsgVector; fd: number; open: () => boolean } | undefined | null; // null: not available here
  let count = 0;
  let scheduled = false;
  let closed = false;
  let lastFlush = 0;
  const tos: (UdpPeer | undefined)[] = new Array<UdpPeer | undefined>(SLOTS);
  type OnError = (err: NodeJS.ErrnoException, tag: unknown) => void;
  const errs: (OnError | undefined)[] = new Array<OnError | undefined>(SLOTS);
  const tags: unknown[] = new Array<unknown>(SLOTS);
  const stats = { batched: 0, fallback: 0, calls: 0, segmented: 0 };
  /** The kernel refused GSO on this socket: never again. */
  let segmentOff = false;
  /** Each queued datagram's size (also in its iovec; kept here for the EAGAIN fallback). */
  const lengths = new Uint32Array(SLOTS);

  function setup(): typeof v {
    if (opts.enabled === false || mmsgUnavailable() !== undefined) return null;
    const sfd = socketFd(socket);
    return sfd === undefined ? null : { vec: createMmsgVector(SLOTS, SLOT_BYTES), ...sfd };
  }

  function fallback(bytes: Buffer, to: UdpPeer | undefined, onError: OnError | undefined, tag: unknown): void {
    stats.fallback++;
    const cb = (err: Error | null): void => {
      if (err && onError) onError(err, tag);
    };
    try {
      if (to === undefined) socket.send(bytes, cb);
      else socket.send(bytes, to.port, to.address, cb);
    } catch (err) {
      onError?.(err as NodeJS.ErrnoException, tag);
    }
  }

  /** The batch as one segmented message: true when it left (or failed for good, reported); false: send it the usual way. */
  function sendSegmented(vec: MmsgVector, fd: number): boolean {
    const seg = opts.segment;
    if (seg === undefined || segmentOff || count < 2) return false;
    let size = 0;
    for (let i = 0; i < count; i++) {
      if (tos[i] !== undefined) return false;
      size = Math.max(size, lengths[i] ?? 0);
    }
    for (let i = 0; i < count; i++) {
      const grow = size - (lengths[i] ?? 0);
      if (grow > 0 && grow < seg.minPad) {
        size += seg.minPad;
        break;
      }
    }
    if (size > MAX_SEGMENT_BYTES) return false;
    for (let i = 0; i < count; i++) {
      const len = lengths[i] ?? 0;
      if (len === size) continue;
      if (!seg.pad(vec.bytes, vec.dataAt(i), len, size)) return false; // those grown so far are still whole datagrams
      lengths[i] = size;
      vec.setLength(i, size);
    }
    stats.calls++;
    const message = vec.segmented(count, size);
    let r = vec.lc.sendmmsg(fd, message, 1, MSG_DONTWAIT);
    if (r < 0 && vec.lc.errno() === EINTR) r = vec.lc.sendmmsg(fd, message, 1, MSG_DONTWAIT);
    if (r === 1) {
      stats.segmented += count;
      stats.batched += count;
      return true;
    }
    const errno = vec.lc.errno();
    if (errno === EAGAIN) return false; // the usual way queues them on libuv
    if (GSO_UNSUPPORTED.has(errno)) {
      segmentOff = true;
      return false;
    }
    // An error of the socket (a connected one's ECONNREFUSED, say) is reported once, and it was
    // this message's: every datagram in it failed.
    const err = errnoError(errno);
    for (let i = 0; i < count; i++) errs[i]?.(err, tags[i]);
    return true;
  }

  function flush(): void {
    scheduled = false;
    if (!v || count === 0) return;
    const { vec, fd } = v;
    if (!v.open()) {
      count = 0; // the socket was closed under us: what was queued is dropped, as socket.send would
      return;
    }
    let i = sendSegmented(vec, fd) ? count : 0;
    while (i < count) {
      stats.calls++;
      const r = vec.lc.sendmmsg(fd, vec.entry(i), count - i, MSG_DONTWAIT);
      if (r > 0) {
        stats.batched += r;
        i += r;
        continue;
      }
      const errno = vec.lc.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        // The send buffer is full: libuv queues the rest and writes it when the socket drains.
        for (; i < count; i++) {
          const at = vec.dataAt(i);
          fallback(Buffer.from(vec.bytes.subarray(at, at + (lengths[i] ?? 0))), tos[i], errs[i], tags[i]);
        }
        break;
      }
      // sendmmsg reports the error of the first datagram it could not send: tell its owner, go on.
      errs[i]?.(errnoError(errno), tags[i]);
      i++;
    }
    tos.fill(undefined, 0, count);
    errs.fill(undefined, 0, count);
    tags.fill(undefined, 0, count);
    count = 0;
    lastFlush = now();
  }

  return {
    send<T>(parts: readonly Uint8Array[], to: UdpPeer | undefined, onError?: (err: NodeJS.ErrnoException, tag: T) => void, tag?: T) {
      const handler = onError as OnError | undefined;
      if (closed) return false;
      if (v === undefined) v = setup();
      const ready = v;
      let size = 0;
      for (const p of parts) size += p.length;
      // An AF_INET peer recvmmsg read on a udp4 socket is written from its numbers (below).
      const v4 = to !== undefined && to.ipv4 !== undefined && !opts.ipv6;
      const name = to === undefined || v4 ? undefined : (to.sockaddr ?? encodeSockaddr(to, opts.ipv6));
      if (!ready || size > SLOT_BYTES || name === null) {
        fallback(parts.length === 1 && parts[0] ? Buffer.from(parts[0]) : Buffer.concat(parts), to, handler, tag);
        return true;
      }
      const { vec } = ready;
      const i = count++;
      let at = vec.dataAt(i);
      for (const p of parts) {
        vec.bytes.set(p, at);
        at += p.length;
      }
      vec.setLength(i, size);
      lengths[i] = size;
      if (v4) vec.setNameLength(i, writeSockaddrIn(vec.bytes, vec.nameAt(i), to.ipv4 ?? 0, to.port));
      else if (name === undefined) vec.setNameLength(i, 0);
      else {
        name.copy(vec.bytes, vec.nameAt(i));
        vec.setNameLength(i, name.length);
      }
      tos[i] = to;
      errs[i] = handler;
      tags[i] = tag;
      if (count === SLOTS || (count === 1 && now() - lastFlush > IDLE_MS)) {
        flush();
        return true;
      }
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return false;
    },
    counts: () => ({ ...stats }),
    close() {
      if (closed) return;
      flush();
      closed = true;
      if (v) v.vec.free();
      v = null;
    },
  };
}

/** net/ipv4/udp.c udp_send_skb: no GSO here (EIO: no checksum offload on the path, e.g. IPsec; EINVAL: a segment over the path MTU or these options), or a kernel without it (ENOPROTOOPT, EOPNOTSUPP). */
const GSO_UNSUPPORTED = new Set([5, 22, 92, 95]);

export function errnoError(errno: number, syscall = 'sendmmsg'): NodeJS.ErrnoException {
  const text = errnoText(errno);
  const err: NodeJS.ErrnoException = new Error(`${syscall}: ${text}`);
  err.errno = -errno;
  err.code = text.split(' ')[0];
  err.syscall = syscall;
  return err;
}
