/**
 * Jobs that must not overlap, one at a time in the order they were submitted: each caller gets
 * its own job's result, and a job that fails (throws or rejects) fails only its caller — the next
 * job still runs. A job submitted to an idle queue starts at once, in the caller's turn (no
 * microtask hop): a learned-set write the DNS front waits on starts the moment its batch closes.
 *
 * `latest` is the newest-wins form: while a job runs, only the newest value of a slot waits.
 */
export class SerialQueue {
  /** Settles (never rejects) when the last job submitted so far has settled. */
  private tail: Promise<void> = Promise.resolve();
  /** Jobs submitted and not yet settled, the running one included. */
  private pending = 0;
  /** Per slot, the `latest` job waiting for its turn (not yet started). */
  private readonly waiting = new Map<string, Waiting<unknown, unknown>>();

  /** `onIdle`: called each time the last pending job has settled (SerialQueues forgets the queue). */
  constructor(private readonly onIdle?: () => void) {}

  /** A job is running or waiting. */
  get busy(): boolean {
    return this.pending > 0;
  }

  run<T>(job: () => T | PromiseLike<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    // The tail moves before the job starts, so a job submitted from inside this one waits for it.
    this.tail = new Promise<void>((r) => (release = r));
    const result = this.pending++ === 0 ? attempt(job) : before.then(() => job());
    const settled = (): void => {
      this.pending--;
      release();
      if (this.pending === 0) this.onIdle?.();
    };
    // Also marks `result` handled: a caller that drops it does not get an unhandled rejection.
    result.then(settled, settled);
    return result;
  }

  /**
   * `handler(value)` in the queue's order, newest-wins per `slot`: while a job of the slot waits
   * for its turn, a new `value` replaces the one it will run with, and every caller whose value was
   * replaced gets the result of that run (what is applied now includes what it asked for). A slot
   * is used with one value and result type (its callers'), which the map cannot express.
   */
  latest<V, T>(slot: string, value: V, handler: (value: V) => T | PromiseLike<T>): Promise<T> {
    const w = this.waiting.get(slot);
    if (w) {
      w.value = value;
      return w.result as Promise<T>;
    }
    if (this.pending === 0) return this.run(() => handler(value));
    const entry: Waiting<V, T> = {
      value,
      result: this.run(() => {
        this.waiting.delete(slot);
        return handler(entry.value);
      }),
    };
    this.waiting.set(slot, entry);
    return entry.result;
  }

  /** Settles (never rejects) once every job submitted before this call has settled. */
  idle(): Promise<void> {
    return this.tail;
  }
}

/** One SerialQueue per key (a namespace, a table), created on first use and forgotten when idle. */
export class SerialQueues<K extends string = string> {
  private readonly queues = new Map<K, SerialQueue>();

  run<T>(key: K, job: () => T | PromiseLike<T>): Promise<T> {
    return this.queue(key).run(job);
  }

  /** SerialQueue.latest in `key`'s queue. */
  latest<V, T>(key: K, slot: string, value: V, handler: (value: V) => T | PromiseLike<T>): Promise<T> {
    return this.queue(key).latest(slot, value, handler);
  }

  busy(key: K): boolean {
    return this.queues.get(key)?.busy ?? false;
  }

  /** Settles once every job submitted before this call to `key`'s queue (without a key: to any queue) has settled. */
  async idle(key?: K): Promise<void> {
    if (key !== undefined) return this.queues.get(key)?.idle();
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
  }

  private queue(key: K): SerialQueue {
    let q = this.queues.get(key);
    if (!q) {
      const created = new SerialQueue(() => {
        if (this.queues.get(key) === created) this.queues.delete(key);
      });
      this.queues.set(key, created);
      q = created;
    }
    return q;
  }
}

interface Waiting<V, T> {
  value: V;
  readonly result: Promise<T>;
}

/** `job()` as a promise, a synchronous throw as a rejection. */
function attempt<T>(job: () => T | PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(job());
  } catch (err) {
    return Promise.reject(err);
  }
}
