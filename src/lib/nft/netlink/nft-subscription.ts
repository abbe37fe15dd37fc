import { statSync } from 'node:fs';
import { NFNLGRP_NFTABLES } from '../../libc/libc.js';
import { parseNftDatagram, type RawNftEvent } from './nft-events.js';
import { NfnlSocket } from './nfnl-socket.js';

/**
 * One in-process subscription to nf_tables notifications per network namespace, shared by every
 * consumer in the process (set-sync's and learned-replay's monitors): a NETLINK_NETFILTER socket
 * joined to NFNLGRP_NFTABLES, opened in the namespace like the request sockets (nfnl-socket.ts).
 *
 * Memory is bounded by the socket's receive buffer, whatever happens: the kernel queues each
 * commit's notifications on it (during the sender's own send(2), see nfnl-socket.ts), and when it
 * is full it drops them and flags ENOBUFS (af_netlink.c netlink_overrun). That is reported as
 * `lost`: the consumer re-reads and repairs every set of the namespace instead of us buffering.
 * RCVBUF holds the notifications of one bounded transaction of ours with room to spare: each
 * element costs ~136 bytes of skb truesize on the queue (Linux 6.18: a 16k-element add + the 8k
 * deletes of its flush queued 3.3 MB), and the kernel doubles the value we set (sock_setsockopt),
 * so 4 MiB holds ~60k notifications and costs at most 8 MiB of kernel memory, only while queued.
 * Our own writes drain the queue right after each transaction, and one bigger than that reserves
 * room for its own notifications first (`reserve`): otherwise it would overflow the buffer, the
 * overflow would trigger a refill, and the refill would overflow it again.
 *
 * Reading: koffi has no event-loop integration and libuv cannot watch a netlink fd for us (it
 * refuses unknown socket types), and a blocking recv on the threadpool would pin one of its 4
 * threads for good. So a timer reads with MSG_DONTWAIT (an EAGAIN costs ~1 µs): every POLL_MS
 * after notifications came, backing off to IDLE_POLL_MS while none do — an idle router's event
 * loop is not woken 20 times a second for nothing, and a change after a quiet spell is seen within
 * IDLE_POLL_MS (set-sync debounces refills by 200 ms anyway).
 */

export const RCVBUF = 4 * 1024 * 1024;
/** Queued bytes per element notification (skb truesize, measured above) for `reserve`. */
export const NOTIFY_BYTES_PER_ELEMENT = 160;
/** A reservation never exceeds this (a 1M-prefix full load would want ~640 MB); beyond it a transaction overflows and is reported lost. */
const MAX_RESERVE = 256 * 1024 * 1024;
const POLL_MS = 50;
/** The poll period doubles per empty tick up to this. */
const IDLE_POLL_MS = 400;
/** Datagrams read per tick before yielding to the event loop (each up to 256 KiB). */
const MAX_READS_PER_TICK = 256;
/** This often, check that /run/netns/NAME still names the namespace we listen in. */
const NS_CHECK_MS = 1000;

export interface SubscriptionListener {
  onEvents(events: readonly RawNftEvent[]): void;
  /**
   * `up` when subscribed (again: events may have been missed before it), `lost` when the kernel
   * dropped notifications (receive buffer overflow), `down` when the socket cannot be opened
   * (the namespace is gone); retried every tick.
   */
  onState(state: 'up' | 'lost' | 'down', detail?: string): void;
}

export interface Subscription {
  /** Reads what is queued now, synchronously (after a change made by another process, before judging it). */
  pollNow(): void;
  /** Room for about `bytes` of notifications (our own big transaction) until the returned release is called. */
  reserve(bytes: number): () => void;
  stop(): void;
}

class Shared {
  readonly listeners = new Set<SubscriptionListener>();
  private sock: NfnlSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private period = POLL_MS;
  private closed = false;
  private lastNsCheck = performance.now();
  private downSince: string | undefined;
  private readonly reservations = new Set<{ bytes: number; done: boolean }>();
  private current: number;

  constructor(
    private readonly netns: string | undefined,
    private readonly rcvbuf: number,
  ) {
    this.current = rcvbuf;
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.period);
    this.timer.unref();
  }

  private emit(state: 'up' | 'lost' | 'down', detail?: string): void {
    for (const l of [...this.listeners]) l.onState(state, detail);
  }

  /** Opens the socket when there is none; true when there is one. */
  ensure(): boolean {
    if (this.sock?.usable) return true;
    try {
      this.sock = NfnlSocket.open(this.netns, { group: NFNLGRP_NFTABLES, rcvbuf: this.current });
    } catch (err) {
      const detail = `cannot subscribe to nf_tables notifications${this.netns !== undefined ? ` in netns ${this.netns}` : ''}: ${err instanceof Error ? err.message : String(err)}`;
      if (this.downSince !== detail) this.emit('down', detail);
      this.downSince = detail;
      return false;
    }
    this.downSince = undefined;
    this.emit('up');
    return true;
  }

  /** Released reservations end when the queue has been read empty: shrinking below what is queued would drop the next notifications. */
  reserve(bytes: number): () => void {
    const r = { bytes: Math.min(bytes, MAX_RESERVE), done: false };
    this.reservations.add(r);
    this.resize();
    return () => {
      r.done = true;
      this.read();
    };
  }

  private resize(): void {
    let want = this.rcvbuf;
    for (const r of this.reservations) want = Math.max(want, r.bytes);
    if (want !== this.current && this.sock?.setRcvbuf(want)) this.current = want;
  }

  /** The namespace behind /run/netns/NAME was deleted or re-created: our socket hears nothing of the new one. */
  private moved(): boolean {
    if (this.netns === undefined || this.sock === undefined) return false;
    try {
      return statSync(`/run/netns/${this.netns}`, { bigint: true }).ino !== this.sock.nsIno;
    } catch {
      return true;
    }
  }

  tick(): void {
    const now = performance.now();
    if (now - this.lastNsCheck >= NS_CHECK_MS) {
      this.lastNsCheck = now;
      if (this.moved()) {
        this.sock?.close();
        this.sock = undefined;
      }
    }
    if (!this.read()) this.period = Math.min(IDLE_POLL_MS, this.period * 2);
  }

  /** Reads what is queued; true when notifications (or an overflow) were there. */
  read(): boolean {
    if (!this.ensure() || this.sock === undefined) return false;
    let overflow = false;
    const events: RawNftEvent[] = [];
    for (let i = 0; i < MAX_READS_PER_TICK; i++) {
      let r: ReturnType<NfnlSocket['read']>;
      try {
        r = this.sock.read();
      } catch (err) {
        this.sock.close();
        this.sock = undefined;
        this.emit('down', err instanceof Error ? err.message : String(err));
        return false;
      }
      if (r.kind === 'empty') {
        let shrink = false;
        for (const res of this.reservations) if (res.done) shrink = this.reservations.delete(res);
        if (shrink) this.resize();
        break;
      }
      if (r.kind === 'overflow') overflow = true;
      // parse now: `bytes` is the socket's receive buffer, reused by the next read
      else parseNftDatagram(r.bytes, events);
    }
    if (events.length > 0) for (const l of [...this.listeners]) l.onEvents(events);
    if (overflow) this.emit('lost', `nf_tables notifications dropped: receive buffer (${this.rcvbuf} bytes) overflowed`);
    const heard = events.length > 0 || overflow;
    if (heard) this.period = POLL_MS;
    return heard;
  }

  /** The socket's portid (what /proc/net/netlink shows for it), while one is open. */
  get portid(): number | undefined {
    return this.sock?.usable ? this.sock.portid : undefined;
  }

  /** Inode of the socket's namespace (the one named, or this process's own), while one is open. */
  get nsIno(): bigint | undefined {
    if (!this.sock?.usable) return undefined;
    return this.sock.nsIno ?? (ownNsIno ??= statSync('/proc/self/ns/net', { bigint: true }).ino);
  }

  /** Leaves or re-joins NFNLGRP_NFTABLES (quiet-window.ts); a socket opened again later always joins. */
  setMember(member: boolean): boolean {
    return this.sock?.setMembership(NFNLGRP_NFTABLES, member) ?? false;
  }

  /** Tells every listener that notifications were missed. */
  reportLost(detail: string): void {
    this.emit('lost', detail);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.sock?.close();
    this.sock = undefined;
  }
}

const shared = new Map<string, Shared>();
let ownNsIno: bigint | undefined;

/** A namespace's shared subscription, for a quiet window (quiet-window.ts). */
export interface SubscriptionControl {
  readonly portid: number | undefined;
  readonly nsIno: bigint | undefined;
  setMember(member: boolean): boolean;
  reportLost(detail: string): void;
}

/** This process's subscriptions, by namespace (undefined = its own). */
export function subscriptions(): { netns: string | undefined; sub: SubscriptionControl }[] {
  return [...shared.entries()].map(([key, sub]) => ({ netns: key === '' ? undefined : key, sub }));
}

/** Subscribes `listener` to the namespace's notifications (opening the shared socket on first use). */
export function subscribeNft(netns: string | undefined, listener: SubscriptionListener, opts: { rcvbuf?: number } = {}): Subscription {
  const key = netns ?? '';
  let s = shared.get(key);
  if (s === undefined) {
    s = new Shared(netns, opts.rcvbuf ?? RCVBUF);
    shared.set(key, s);
  }
  const sub = s;
  sub.listeners.add(listener);
  // A late joiner is told `up` itself: everything before this moment is unknown to it.
  if (sub.listeners.size > 1 && sub.ensure()) listener.onState('up');
  else sub.ensure();
  return {
    pollNow: () => sub.read(),
    reserve: (bytes) => sub.reserve(bytes),
    stop() {
      if (!sub.listeners.delete(listener) || sub.listeners.size > 0) return;
      sub.close();
      if (shared.get(key) === sub) shared.delete(key);
    },
  };
}
