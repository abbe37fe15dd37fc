import { AVAHI_RECORD_BROWSER_IFACE, narrowRecordBrowserSignal } from './types.js';
import type { RecordBrowserEvent, SignalMessage } from './types.js';

export interface SignalRouterOptions {
  /** How long signals for a path nobody has subscribed to yet are kept, ms. */
  readonly bufferMs?: number;
  /** Bound on buffered signals across all paths; the oldest path is dropped beyond it. */
  readonly maxBuffered?: number;
  readonly now?: () => number;
}

interface Pending {
  readonly at: number;
  readonly events: RecordBrowserEvent[];
}

/**
 * Dispatches RecordBrowser signals by object path, so one broad match rule serves every browser
 * (dbus-daemon's default max_match_rules_per_connection is 512: a rule per query runs out, and a
 * rule added after the browser exists misses the answers Avahi sends from its cache at once).
 *
 * Why the buffer: with the old `Server.RecordBrowserNew` Avahi starts browsing before it replies, and
 * answers from its cache at once, so ItemNew/AllForNow for a path can arrive *before* we learn the
 * path. They are kept briefly and replayed on `subscribe`. With `Server2.RecordBrowserPrepare` +
 * `Start` the path is known first and nothing is ever buffered for a live browser; what does land in
 * the buffer then is a late signal for a browser already freed, which simply ages out.
 *
 * Paths are `/Client<n>/RecordBrowser<m>` with per-client counters, so a path only repeats after
 * Avahi restarts; `clear()` is called then.
 */
export class SignalRouter {
  private readonly handlers = new Map<string, (event: RecordBrowserEvent) => void>();
  /** Insertion-ordered, so the oldest entries are first and expiry is a walk from the front. */
  private readonly pending = new Map<string, Pending>();
  private bufferedCount = 0;
  private readonly bufferMs: number;
  private readonly maxBuffered: number;
  private readonly now: () => number;

  constructor(opts: SignalRouterOptions = {}) {
    this.bufferMs = opts.bufferMs ?? 2000;
    this.maxBuffered = opts.maxBuffered ?? 4096;
    this.now = opts.now ?? Date.now;
  }

  /** Feed every incoming D-Bus signal; returns true when it was a RecordBrowser signal. */
  dispatch(msg: SignalMessage): boolean {
    if (msg.interface !== AVAHI_RECORD_BROWSER_IFACE || typeof msg.path !== 'string') return false;
    const event = narrowRecordBrowserSignal(msg.member, msg.body);
    if (event === undefined) return true;
    const handler = this.handlers.get(msg.path);
    if (handler !== undefined) {
      handler(event);
      return true;
    }
    this.expire();
    let entry = this.pending.get(msg.path);
    if (entry === undefined) {
      entry = { at: this.now(), events: [] };
      this.pending.set(msg.path, entry);
    }
    entry.events.push(event);
    this.bufferedCount++;
    while (this.bufferedCount > this.maxBuffered) this.dropOldest();
    return true;
  }

  /**
   * Route `path` to `handler`, replaying buffered signals synchronously first (in arrival order).
   * A path has one subscriber; the returned function unsubscribes (idempotent).
   */
  subscribe(path: string, handler: (event: RecordBrowserEvent) => void): () => void {
    this.handlers.set(path, handler);
    const entry = this.pending.get(path);
    if (entry !== undefined) {
      this.pending.delete(path);
      this.bufferedCount -= entry.events.length;
      for (const event of entry.events) {
        if (this.handlers.get(path) !== handler) break; // the handler unsubscribed while replaying
        handler(event);
      }
    }
    return () => {
      if (this.handlers.get(path) === handler) this.handlers.delete(path);
    };
  }

  /** Forget every subscription and buffered signal (Avahi or the bus went away). */
  clear(): void {
    this.handlers.clear();
    this.pending.clear();
    this.bufferedCount = 0;
  }

  /** For tests and the leak check: live subscriptions and buffered signals. */
  get size(): { readonly subscribed: number; readonly buffered: number } {
    this.expire();
    return { subscribed: this.handlers.size, buffered: this.bufferedCount };
  }

  private expire(): void {
    const cutoff = this.now() - this.bufferMs;
    for (const [path, entry] of this.pending) {
      if (entry.at > cutoff) break;
      this.pending.delete(path);
      this.bufferedCount -= entry.events.length;
    }
  }

  private dropOldest(): void {
    const first = this.pending.entries().next();
    if (first.done === true) {
      this.bufferedCount = 0;
      return;
    }
    const [path, entry] = first.value;
    this.pending.delete(path);
    this.bufferedCount -= entry.events.length;
  }
}
