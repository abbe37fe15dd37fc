/**
 * A bound on operations running at once, with bounded FIFOs behind it: beyond a queue's bound,
 * `acquire` fails at once so a flood cannot grow memory without limit. Used for Avahi record
 * browsers (local-names) and for D-Bus calls awaiting a reply (lib/avahi).
 *
 * Two lanes: `priority` waiters are always granted before normal ones, and `reservedForPriority`
 * of the `maxActive` slots are never given to normal work, so a flood of normal operations (1 s
 * mDNS misses) can neither run ahead of priority ones nor occupy every slot when one arrives.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly waitingPriority: Array<() => void> = [];
  private readonly normalCap: number;

  constructor(
    private readonly maxActive: number,
    private readonly maxQueued: number,
    reservedForPriority = 0,
  ) {
    // At least one slot stays for normal work, whatever was asked for.
    this.normalCap = Math.max(1, maxActive - Math.max(0, reservedForPriority));
  }

  /**
   * Resolves with a release function, or with `undefined` when the lane's queue is full or
   * `signal` aborts first.
   */
  acquire(signal?: AbortSignal, priority = false): Promise<(() => void) | undefined> {
    const queue = priority ? this.waitingPriority : this.waiting;
    // A normal newcomer never overtakes queued priority work; a priority one only other priority work.
    const free = priority ? this.active < this.maxActive : this.active < this.normalCap && this.waitingPriority.length === 0;
    if (free && queue.length === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (queue.length >= this.maxQueued || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(grant);
    });
  }

  get activeCount(): number {
    return this.active;
  }

  /** Waiting in both lanes. */
  get queuedCount(): number {
    return this.waiting.length + this.waitingPriority.length;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.active < this.maxActive && this.waitingPriority.length > 0) this.waitingPriority.shift()?.();
    while (this.active < this.normalCap && this.waitingPriority.length === 0 && this.waiting.length > 0) this.waiting.shift()?.();
  }
}
