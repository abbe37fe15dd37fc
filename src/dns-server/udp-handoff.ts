/**
 * Slow UDP questions are handed off to TCP: a UDP question whose answer is not ready `delayMs`
 * after it arrived gets an empty TC=1 reply, and the client asks again over TCP, where the answer
 * is sent when the lookup settles (the lookup itself goes on; the TCP retry joins it).
 *
 * Why: a resolver keeps one RTT estimate per upstream. Our cached answers take ~1 ms, which drives
 * Unbound's retransmit timeout for us to its 50 ms floor; a miss that Avahi holds for
 * `mdns.timeoutMs` (1 s) would then be retransmitted ~10 times over UDP and, after enough
 * timeouts, turned into SERVFAIL for the client — while the retransmits load the resolver every
 * other LAN query goes through. Over TCP Unbound waits `tcp-auth-query-timeout` (3 s) without
 * retransmitting. TC=1 as "retry over TCP" is the standard signal (RFC 1035 §4.2.1, RFC 7766 §5;
 * response-rate limiting's "slip" uses it the same way).
 *
 * One timer for all questions: entries share one delay, so they expire in arrival order and a FIFO
 * is enough. A question answered in time only costs a small object and a flag.
 */
export interface HandoffSlot {
  /** Set when the answer was sent (or the hand-off fired): the other side then does nothing. */
  settled: boolean;
}

interface Entry extends HandoffSlot {
  readonly due: number;
  readonly fire: () => void;
}

/** Compact the FIFO array once this many entries at its head are consumed. */
const COMPACT_AT = 1024;

export class UdpHandoff {
  private entries: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly delayMs: number) {}

  /** Track one question; `fire` sends the TC reply if the slot is still unsettled at the deadline. */
  add(fire: () => void): HandoffSlot {
    const entry: Entry = { due: performance.now() + this.delayMs, fire, settled: false };
    if (this.stopped) {
      entry.settled = true;
      return entry;
    }
    this.entries.push(entry);
    if (this.timer === undefined) this.arm(this.delayMs);
    return entry;
  }

  /** Questions waiting for their answer or their hand-off (settled ones may linger until swept). */
  size(): number {
    return this.entries.length - this.head;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries = [];
    this.head = 0;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.entries.length) {
      const e = this.entries[this.head] as Entry;
      if (!e.settled) {
        if (e.due > now) break;
        e.settled = true;
        e.fire(); // guarded by the caller: must not throw
      }
      this.head++;
    }
    if (this.head >= COMPACT_AT || this.head === this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    const next = this.entries[this.head];
    if (next !== undefined) this.arm(next.due - now);
  };
}
