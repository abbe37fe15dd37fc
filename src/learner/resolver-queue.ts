import type { Logger } from 'pino';
import { RRType } from '../lib/dns-wire/types.js';
import type { ResolveConfig } from './config.js';
import type { Learn } from './dnstap-ingest.js';
import { clampTtl, type ListMatchers, type ListState } from './list-matchers.js';
import type { LearnerMetrics } from './metrics.js';
import { createUpstreamClient, type QueryOutcome, type UpstreamClient } from './upstream-client.js';

/**
 * Proactive resolution: every listed name of a learning list is resolved (A and
 * AAAA) so its addresses are in the set before any client asks, and again when the learned timeout
 * is about to end. Wildcard entries are resolved at their apex (blocklist drops the `*.` and the
 * apex is meant too); their subdomains are learned from dnstap only.
 *
 * Most registry names are dead: NXDOMAIN/SERVFAIL/timeout/no address back off exponentially from
 * backoffMin to backoffMax (±10% jitter, so a list's dead names do not come due in one burst).
 * Concurrency is bounded and a token bucket caps qps; memory per name is 9 bytes + a heap slot.
 */

export interface ResolverQueue {
  /** The list's names (registry + additions); due times and failures carry over for kept names. */
  setNames(list: string, names: readonly string[]): void;
  /** Resolve this name first (a runtime addition). */
  resolveNow(list: string, name: string): void;
  start(): void;
  stop(): Promise<void>;
  status(): { names: number; due: number; inFlight: number };
  /** Resolves once nothing is due and nothing is in flight (tests). */
  idle(): Promise<void>;
}

interface Lane {
  list: ListState;
  names: readonly string[];
  due: Float64Array;
  fails: Uint8Array;
  heap: MinHeap;
}

/** Re-resolve at this fraction of the learned timeout, so the refresh lands before the kernel drops it. */
const REFRESH_AT = 0.9;
/** First retry after a timeout (upstream down or restarting), doubling up to backoffMin. */
const TRANSIENT_MIN_S = 2;

export function createResolverQueue(opts: {
  config: ResolveConfig;
  matchers: ListMatchers;
  learn: Learn;
  metrics: LearnerMetrics;
  logger: Logger;
  client?: UpstreamClient;
  now?: () => number;
}): ResolverQueue {
  const { config, matchers, learn, metrics } = opts;
  const now = opts.now ?? Date.now;
  const client = opts.client ?? createUpstreamClient(config.upstream, config.timeoutMs);
  const lanes = new Map<string, Lane>();
  let inFlight = 0;
  let tokens = config.qps;
  let lastRefill = now();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let idleWaiters: Array<() => void> = [];

  function setNames(list: string, names: readonly string[]): void {
    const s = matchers.get(list);
    if (!s) return;
    const old = lanes.get(list);
    const prev = new Map<string, number>();
    if (old) old.names.forEach((n, i) => prev.set(n, i));
    const due = new Float64Array(names.length);
    const fails = new Uint8Array(names.length);
    const heap = new MinHeap();
    names.forEach((n, i) => {
      const j = prev.get(n);
      if (old && j !== undefined) {
        due[i] = old.due[j] ?? 0;
        fails[i] = old.fails[j] ?? 0;
      }
      heap.push(due[i] ?? 0, i);
    });
    lanes.set(list, { list: s, names, due, fails, heap });
    pump();
  }

  function resolveNow(list: string, name: string): void {
    const lane = lanes.get(list);
    const i = lane?.names.indexOf(name) ?? -1;
    if (!lane || i < 0) return;
    lane.due[i] = 0;
    lane.fails[i] = 0;
    lane.heap.push(0, i); // the old heap entry goes stale (its key no longer equals due[i])
    pump();
  }

  /** The earliest valid heap top across lanes (stale entries are popped on the way). */
  function next(): { lane: Lane; i: number; at: number } | undefined {
    let best: { lane: Lane; i: number; at: number } | undefined;
    for (const lane of lanes.values()) {
      while (lane.heap.size > 0 && lane.heap.peekKey() !== lane.due[lane.heap.peekValue()]) lane.heap.pop();
      if (lane.heap.size === 0) continue;
      const at = lane.heap.peekKey();
      if (!best || at < best.at) best = { lane, i: lane.heap.peekValue(), at };
    }
    return best;
  }

  function pump(): void {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    const t = now();
    tokens = Math.min(config.qps, tokens + ((t - lastRefill) / 1000) * config.qps);
    lastRefill = t;
    for (;;) {
      const n = next();
      if (!n || n.at > t) {
        if (n) schedule(Math.min(n.at - t, 60_000));
        if (inFlight === 0) wakeIdle();
        return;
      }
      // A name costs two queries (A and AAAA), counted against both limits.
      if (inFlight + 2 > config.concurrency) return; // a finishing query pumps again
      if (tokens < 2) return schedule(((2 - tokens) / config.qps) * 1000);
      tokens -= 2;
      n.lane.heap.pop();
      n.lane.due[n.i] = Number.POSITIVE_INFINITY; // in flight: not due again until rescheduled
      void resolveOne(n.lane, n.i);
    }
  }

  function schedule(ms: number): void {
    timer = setTimeout(pump, Math.max(1, ms));
    timer.unref();
  }

  async function resolveOne(lane: Lane, i: number): Promise<void> {
    const name = lane.names[i] ?? '';
    inFlight += 2;
    const started = performance.now();
    const [a, aaaa] = await Promise.all([client.query(name, RRType.A), client.query(name, RRType.AAAA)]);
    let minTtl = Number.POSITIVE_INFINITY;
    const learned: (Promise<unknown> | string)[] = [];
    for (const r of [a, aaaa]) {
      metrics.resolutions.inc({ outcome: outcomeLabel(r) });
      if (r.kind !== 'answer') continue;
      for (const addr of r.answers.addresses) {
        minTtl = Math.min(minTtl, addr.ttl);
        learned.push(learn(lane.list, addr, name, started));
      }
    }
    await Promise.all(learned);
    // The lane may have been replaced by a new model meanwhile: reschedule in the current one.
    const cur = lanes.get(lane.list.name);
    const j = cur === lane ? i : (cur?.names.indexOf(name) ?? -1);
    if (cur && j >= 0) {
      let delayS: number;
      if (Number.isFinite(minTtl)) {
        cur.fails[j] = 0;
        delayS = clampTtl(minTtl, lane.list.minTtl, lane.list.maxTtl) * REFRESH_AT;
      } else {
        cur.fails[j] = Math.min(255, (cur.fails[j] ?? 0) + 1);
        // A timeout or transport error says the upstream is unwell, not that the name is dead:
        // retry within seconds (capped by backoffMin) instead of parking the name for an hour.
        const transient = [a, aaaa].some((r) => r.kind !== 'answer');
        const fails = cur.fails[j] ?? 1;
        delayS = transient ? backoffSeconds(fails, TRANSIENT_MIN_S, config.backoffMin) : backoffSeconds(fails, config.backoffMin, config.backoffMax);
        delayS *= 0.9 + Math.random() * 0.2;
      }
      cur.due[j] = now() + delayS * 1000;
      cur.heap.push(cur.due[j] ?? 0, j);
    }
    // Only now: `idle()` must not see a name that is neither in flight nor scheduled.
    inFlight -= 2;
    pump();
  }

  function wakeIdle(): void {
    const w = idleWaiters;
    idleWaiters = [];
    for (const f of w) f();
  }

  return {
    setNames,
    resolveNow,
    start() {
      running = true;
      lastRefill = now();
      pump();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      client.close();
      wakeIdle();
    },
    status() {
      const t = now();
      let names = 0;
      let due = 0;
      for (const l of lanes.values()) {
        names += l.names.length;
        for (const d of l.due) if (d <= t) due++;
      }
      return { names, due, inFlight };
    },
    idle() {
      const n = next();
      if (inFlight === 0 && (!n || n.at > now())) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
  };
}

/** backoffMin × 2^(fails-1), capped: 1 h, 2 h, 4 h … 7 d with the defaults. */
export function backoffSeconds(fails: number, min: number, max: number): number {
  return Math.min(max, min * 2 ** Math.min(30, Math.max(0, fails - 1)));
}

function outcomeLabel(r: QueryOutcome): string {
  if (r.kind !== 'answer') return r.kind;
  switch (r.answers.rcode) {
    case 0:
      return r.answers.addresses.length > 0 ? 'answer' : 'nodata';
    case 2:
      return 'servfail';
    case 3:
      return 'nxdomain';
    case 5:
      return 'refused';
    default:
      return 'error';
  }
}

/** Binary min-heap of (due ms, name index) in typed arrays: 12 bytes a slot, no objects. */
class MinHeap {
  private keys = new Float64Array(16);
  private vals = new Int32Array(16);
  size = 0;

  push(key: number, val: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
      const v = new Int32Array(this.size * 2);
      v.set(this.vals);
      this.vals = v;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.keys[p] as number) <= key) break;
      this.keys[i] = this.keys[p] as number;
      this.vals[i] = this.vals[p] as number;
      i = p;
    }
    this.keys[i] = key;
    this.vals[i] = val;
  }

  peekKey(): number {
    return this.keys[0] as number;
  }

  peekValue(): number {
    return this.vals[0] as number;
  }

  pop(): void {
    const n = --this.size;
    const key = this.keys[n] as number;
    const val = this.vals[n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (this.keys[c + 1] as number) < (this.keys[c] as number)) c++;
      if ((this.keys[c] as number) >= key) break;
      this.keys[i] = this.keys[c] as number;
      this.vals[i] = this.vals[c] as number;
      i = c;
    }
    this.keys[i] = key;
    this.vals[i] = val;
  }
}
