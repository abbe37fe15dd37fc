import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { IpFamily } from '../lib/ip-prefix/index.js';
import type { NftBackend } from '../lib/nft/nft-backend.js';
import { createDefaultNftBackend } from '../lib/nft/netlink/netlink-backend.js';
import { later, SerialQueue, type Pending } from '../lib/concurrency/index.js';
import { DEFAULT_MAX_TRANSACTION_PREFIXES } from './config.js';
import { createLearnedReplay } from './learned-replay.js';
import { createLearnedSetMetrics } from './metrics.js';
import { addSetCommand, addTableCommand, AddressElements, elementCommand, setRefText, type AddressElement, type NftCommand, type NftFamily, type SetRef } from '../lib/nft/nft-json.js';
import { parseAddress } from '../lib/ip-prefix/index.js';

/**
 * Learned sets: single addresses with a per-element `timeout`, in sets declared
 * `flags timeout` — no `interval`: learned addresses are single hosts, a hash set is O(1) per
 * element in the kernel and needs none of the interval-set overlap rules that make deletes fragile.
 *
 * Submissions are batched for `batchMs` (default 2 ms; 0 = the rest of the event-loop turn) and written as ONE `nft -j -f -`
 * transaction per namespace per batch, cut so that no transaction carries more than
 * `maxTransactionPrefixes` element operations; while one runs the next batch accumulates, so
 * under load batches grow (up to that bound) instead of processes piling up.
 *
 * Refresh: kernels before 6.10 ignore the timeout of an `add element` for an element that exists
 * (nf_tables only learned to update timeouts with NFT_SET_ELEM_UPDATE), so a refresh is
 * `add` (no-op when present; never fails) + `delete` (now always succeeds) + `add` with the new
 * timeout, in one transaction — a bare `delete` would fail the whole batch when the element had
 * already expired in the kernel. New elements are a single `add`. A refresh is only sent when it
 * extends what we last wrote by a useful margin, so a popular name answered 1000×/s costs nothing.
 *
 * Replay after a flush or an nftables reload: learned-replay.ts.
 */

export interface LearnedTarget {
  readonly family: NftFamily;
  readonly table: string;
  readonly set4?: string | undefined;
  readonly set6?: string | undefined;
  readonly netns?: string | undefined;
  readonly createSets: boolean;
}

export type LearnedOutcome =
  | { readonly kind: 'applied'; readonly refreshed: boolean }
  | { readonly kind: 'unchanged' } // already in the set with a later-or-similar expiry
  | { readonly kind: 'no-set' } // the target has no set for this family
  | { readonly kind: 'failed'; readonly error: string };

/** An element counts as in the set for an answer only with this long left (a write lands well within it). */
export const MIN_FRESH_LEFT_MS = 10_000;

export interface LearnedSets {
  /** Adds (or refreshes) `addressText` with a timeout of `ttlSeconds`. Never rejects. */
  submit(target: LearnedTarget, family: IpFamily, addressText: string, ttlSeconds: number): Promise<LearnedOutcome>;
  /**
   * True when `submit` would answer 'unchanged' (written by us, not expired, and a new timeout
   * of `ttlSeconds` would not extend it beyond the refresh margin): decided synchronously, so a
   * listed answer whose addresses are all in the set costs its relay no Promise.
   */
  fresh(target: LearnedTarget, family: IpFamily, addressText: string, ttlSeconds: number): boolean;
  /**
   * How long the element we wrote has left in the kernel, ms (0: not written by us, expired, or
   * possibly lost: a flush or reload was seen and the replay has not written the set back yet).
   */
  timeLeftMs(target: LearnedTarget, family: IpFamily, addressText: string): number;
  /** Removes it now (a runtime removal). Never rejects. */
  remove(target: LearnedTarget, family: IpFamily, addressText: string): Promise<LearnedOutcome>;
  /** Writes everything pending now; resolves when written. */
  flush(): Promise<void>;
  /**
   * Why a `submit` for this target and family cannot reach the kernel now (its set is missing and
   * elements are being held for the retry), or undefined. Read by callers that must not wait on a
   * held element (the DNS front relays the answer at once instead of waiting out its deadline).
   */
  unavailable(target: LearnedTarget, family: IpFamily): string | undefined;
  /** What we last wrote: expiry (ms since epoch) of an address per set label, for `lookup`. */
  expiryOf(target: LearnedTarget, family: IpFamily, addressText: string): number | undefined;
  /**
   * `expiryOf` for many addresses of one set: the set's key is built once (the learner's store
   * reads a million rows' expiries this way in one housekeeping pass). Undefined: no such set.
   * An address whose write is still queued or held (its set missing) reads as the expiry that
   * write will give it, so the store keeps it meanwhile.
   */
  expiryReader(target: LearnedTarget, family: IpFamily): ((addressText: string) => number | undefined) | undefined;
  stop(): Promise<void>;
}

/** `words`: the address parsed once, at submission; netlink encodes from it (no text in between). */
interface Op {
  set: SetKey;
  address: string;
  words: Uint32Array;
  ttl: number;
  kind: 'add' | 'refresh' | 'remove' | 'replay';
  done: (o: LearnedOutcome) => void;
}
interface SetKey {
  ref: SetRef;
  type: 'ipv4_addr' | 'ipv6_addr';
  createSets: boolean;
  label: string;
}
/**
 * A namespace's batching lane: ops accumulate in `pending` until `timer` fires (or a flush); its
 * writes go through `writes`, which never holds more than one (a kick while one runs does nothing:
 * what arrives meanwhile is the next batch).
 */
interface Lane {
  pending: Op[];
  timer: Pending | undefined;
  readonly writes: SerialQueue;
}
/** A refresh must push the expiry out by at least this fraction of the new timeout (and 30 s). */
const REFRESH_MARGIN = 0.1;
/** Elements held for a missing set (beyond this, new ones are refused: memory is bounded). */
const MAX_HELD = 200_000;
const RETRY_MAX_MS = 60_000;

export function createLearnedSets(opts: { logger: Logger; registry: Registry; backend?: NftBackend; batchMs?: number; now?: () => number; maxTransactionPrefixes?: number }): LearnedSets {
  const logger = opts.logger.child({ component: 'learned-sets' });
  const backend = opts.backend ?? createDefaultNftBackend({ timeoutMs: 30_000 });
  const batchMs = opts.batchMs ?? 2;
  const bound = opts.maxTransactionPrefixes ?? DEFAULT_MAX_TRANSACTION_PREFIXES;
  const now = opts.now ?? Date.now;
  const m = createLearnedSetMetrics(opts.registry);
  const lanes = new Map<string, Lane>();
  /**
   * `label|address` → expiry ms we last wrote: the one clock of a learned element. The learner's
   * store keeps what was learned and why, and reads its expiry from here (expiryReader).
   * Swept of expired entries once a minute.
   */
  const known = new Map<string, number>();
  /**
   * `label|address` → the submission queued or being written for it. Concurrent answers with the
   * same new address (a burst of clients asking one name) share it: one element in the
   * transaction, every caller resolved by the same kernel ACK.
   */
  const queued = new Map<string, Promise<LearnedOutcome>>();
  /**
   * `label|address` → the expiry a write queued or held for it will give it (a set missing at
   * start holds its elements for minutes): what the learner's store must not forget meanwhile.
   */
  const intended = new Map<string, { expires: number; writes: number }>();
  function intend(key: string, expires: number, write: Promise<unknown>): void {
    const i = intended.get(key);
    if (i) {
      i.expires = Math.max(i.expires, expires);
      i.writes++;
    } else intended.set(key, { expires, writes: 1 });
    void write.then(() => {
      const j = intended.get(key);
      if (j && --j.writes === 0) intended.delete(key);
    });
  }
  const created = new Set<string>();
  const missing = new Map<string, { until: number; delay: number }>();
  let stopped = false;
  const replay = createLearnedReplay({
    backend,
    logger,
    known,
    now,
    forgetCreated: (label) => created.delete(label),
    write: (netns, set, address, ttl) => enqueue(netns, { set: set as SetKey, address, ttl, kind: 'replay' }),
    replayed: (n) => m.replayed.inc(n),
  });

  const sweep = setInterval(() => {
    const t = now();
    for (const [k, exp] of known) if (exp <= t) known.delete(k);
  }, 60_000);
  sweep.unref();

  /**
   * A target's set keys, made once per target object (targets are the learner's per-list config,
   * read-only): the DNS front asks `fresh` for every listed answer, and building the label each
   * time was a string concatenation per address.
   */
  const keys = new WeakMap<LearnedTarget, { ipv4: SetKey | undefined; ipv6: SetKey | undefined }>();
  function setKey(target: LearnedTarget, family: IpFamily): SetKey | undefined {
    let k = keys.get(target);
    if (k === undefined) keys.set(target, (k = { ipv4: makeKey(target, 'ipv4'), ipv6: makeKey(target, 'ipv6') }));
    return k[family];
  }
  function makeKey(target: LearnedTarget, family: IpFamily): SetKey | undefined {
    const set = family === 'ipv4' ? target.set4 : target.set6;
    if (set === undefined) return undefined;
    const ref: SetRef = { family: target.family, table: target.table, set };
    return { ref, type: family === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr', createSets: target.createSets, label: `${target.netns ?? ''}|${setRefText(ref)}` };
  }

  function enqueue(netns: string | undefined, submitted: Omit<Op, 'done' | 'words'>): Promise<LearnedOutcome> {
    if (stopped) return Promise.resolve({ kind: 'failed', error: 'set-sync: learned sets stopped' });
    // Parsed here, once: an address that is not one of the set's family fails alone, not its batch.
    const parsed = parseAddress(submitted.address);
    if (!parsed || (parsed.family === 'ipv4') !== (submitted.set.type === 'ipv4_addr'))
      return Promise.resolve({ kind: 'failed', error: `set-sync: "${submitted.address}" is not an ${submitted.set.type === 'ipv4_addr' ? 'IPv4' : 'IPv6'} address` });
    const op = { ...submitted, words: parsed.words };
    const key = netns ?? '';
    let lane = lanes.get(key);
    if (!lane) {
      lane = { pending: [], timer: undefined, writes: new SerialQueue() };
      lanes.set(key, lane);
    }
    replay.track(netns, op.set);
    if (lane.pending.length >= MAX_HELD) return Promise.resolve({ kind: 'failed', error: 'set-sync: learned-set queue full' });
    const l = lane;
    const p = new Promise<LearnedOutcome>((done) => l.pending.push({ ...op, done }));
    if (!l.timer && !l.writes.busy) l.timer = later(() => kick(netns, l), batchMs);
    if (op.kind !== 'remove') intend(`${op.set.label}|${op.address}`, now() + op.ttl * 1000, p);
    return p;
  }

  function kick(netns: string | undefined, lane: Lane): void {
    lane.timer = undefined;
    if (lane.writes.busy || lane.pending.length === 0) return;
    // Starts now (the queue is idle): the DNS front is waiting on this batch.
    void lane.writes
      .run(() => write(netns, lane))
      .finally(() => {
        // Whatever arrived during the write goes out at once: it has waited at least one nft run.
        if (lane.pending.length > 0 && !lane.timer) lane.timer = later(() => kick(netns, lane), stopped ? 0 : batchMs);
      });
  }

  async function write(netns: string | undefined, lane: Lane): Promise<void> {
    const t = now();
    const ready: Op[] = [];
    const held: Op[] = [];
    for (const op of lane.pending) ((missing.get(op.set.label)?.until ?? 0) > t ? held : ready).push(op);
    lane.pending = held;
    if (held.length > 0 && !lane.timer) {
      const wait = Math.min(...held.map((o) => (missing.get(o.set.label)?.until ?? t) - t));
      lane.timer = later(() => kick(netns, lane), Math.max(wait, batchMs, 1));
    }
    if (ready.length === 0) return;
    for (const batch of cutBatches(ready, bound)) await writeBatch(netns, lane, batch, t);
  }

  async function writeBatch(netns: string | undefined, lane: Lane, ready: Op[], t: number): Promise<void> {
    const started = performance.now();
    const drops = new Map<string, number>();
    for (const op of ready) if (op.kind === 'refresh' || op.kind === 'remove') drops.set(op.set.label, (drops.get(op.set.label) ?? 0) + 1);
    replay.sending(netns, drops);
    const epochs = new Map<string, number>();
    for (const op of ready) if (!epochs.has(op.set.label)) epochs.set(op.set.label, replay.epoch(op.set.label));
    try {
      await backend.apply(commands(ready), netns);
      m.batchSize.observe(ready.length);
      m.applyDuration.observe((performance.now() - started) / 1000);
      for (const op of ready) {
        const k = `${op.set.label}|${op.address}`;
        if (op.kind === 'remove') known.delete(k);
        else {
          known.set(k, t + op.ttl * 1000);
          replay.landed(op.set.label, op.address, epochs.get(op.set.label) ?? 0);
        }
        missing.delete(op.set.label);
        created.add(op.set.label);
        m.ops.inc({ op: op.kind });
        op.done({ kind: 'applied', refreshed: op.kind === 'refresh' });
      }
    } catch (err) {
      replay.refused(netns, drops);
      await failed(netns, lane, ready, err);
    }
  }

  /** A refused batch: find the sets that are missing, hold their elements (retried with backoff), resend the rest once. */
  async function failed(netns: string | undefined, lane: Lane, ops: Op[], err: unknown): Promise<void> {
    const labels = new Map(ops.map((o) => [o.set.label, o.set]));
    let anyMissing = false;
    for (const [label, s] of labels) {
      const d = await backend.describeSet(s.ref, netns).catch(() => undefined);
      if (d?.kind !== 'missing') continue;
      anyMissing = true;
      created.delete(label);
      const prev = missing.get(label);
      const delay = Math.min((prev?.delay ?? 500) * 2, RETRY_MAX_MS);
      missing.set(label, { until: now() + delay, delay });
      m.failures.inc({ reason: 'missing' });
      if (!prev)
        logger.error({ set: s.label, netns, what: d.what }, `set-sync: learned set ${setRefText(s.ref)} is missing (${d.what}); holding its elements and retrying (set createSets to create it)`);
    }
    if (anyMissing && !stopped) {
      lane.pending.unshift(...ops.slice(0, Math.max(0, MAX_HELD - lane.pending.length)));
      return;
    }
    m.failures.inc({ reason: 'nft' });
    const error = errorMessage(err);
    logger.error({ netns, elements: ops.length, err: error }, 'set-sync: learned-set transaction failed; elements dropped (the next answer re-submits them)');
    for (const op of ops) op.done({ kind: 'failed', error });
  }

  function* commands(ops: readonly Op[]): Iterable<NftCommand> {
    const sets = new Map<string, SetKey>();
    for (const op of ops) sets.set(op.set.label, op.set);
    for (const s of sets.values()) {
      if (!s.createSets || created.has(s.label)) continue;
      // `add` of an existing table/set is a no-op, so creating is safe even when it exists.
      yield addTableCommand(s.ref.family, s.ref.table);
      yield addSetCommand(s.ref, s.type, ['timeout']);
    }
    // One command per set and verb (not per element): nft evaluates each command separately.
    const bySet = new Map<string, { ref: SetRef; touch: AddressElement[]; drop: AddressElement[]; timed: AddressElement[] }>();
    for (const op of ops) {
      let g = bySet.get(op.set.label);
      if (!g) bySet.set(op.set.label, (g = { ref: op.set.ref, touch: [], drop: [], timed: [] }));
      const family = op.set.type === 'ipv4_addr' ? 'ipv4' : 'ipv6';
      const bare: AddressElement = { family, words: op.words, text: op.address };
      if (op.kind === 'refresh' || op.kind === 'remove') {
        g.touch.push(bare);
        g.drop.push(bare);
      }
      if (op.kind !== 'remove') g.timed.push({ ...bare, timeoutSeconds: op.ttl });
    }
    const cmd = (verb: 'add' | 'delete', r: SetRef, elems: AddressElement[]): NftCommand => elementCommand(verb, r, new AddressElements(elems));
    for (const g of bySet.values()) {
      // add (no-op when present) → delete (now always succeeds) → add with the new timeout.
      if (g.touch.length > 0) yield cmd('add', g.ref, g.touch);
      if (g.drop.length > 0) yield cmd('delete', g.ref, g.drop);
      if (g.timed.length > 0) yield cmd('add', g.ref, g.timed);
    }
  }

  /**
   * The expiry we wrote is at least MIN_FRESH_LEFT_MS away and a new timeout would not move it past
   * the margin. (Without the first condition a short TTL — a list's minTtl under 30 s — counted as
   * fresh down to its last millisecond, and an answer went out for an address about to expire.)
   */
  function isFresh(label: string, address: string, ttl: number, t: number): boolean {
    if (replay.inDoubt(label, address)) return false;
    const prev = known.get(`${label}|${address}`);
    if (prev === undefined || prev - t < MIN_FRESH_LEFT_MS) return false;
    const margin = Math.max(30_000, ttl * 1000 * REFRESH_MARGIN);
    return t + ttl * 1000 < prev + margin;
  }

  const api: LearnedSets = {
    fresh(target, family, addressText, ttlSeconds) {
      const s = setKey(target, family);
      return s !== undefined && isFresh(s.label, addressText, Math.max(1, Math.round(ttlSeconds)), now());
    },
    timeLeftMs(target, family, addressText) {
      const s = setKey(target, family);
      if (s === undefined || replay.inDoubt(s.label, addressText)) return 0;
      const e = known.get(`${s.label}|${addressText}`);
      return e === undefined ? 0 : Math.max(0, e - now());
    },
    submit(target, family, addressText, ttlSeconds) {
      const s = setKey(target, family);
      if (!s) return Promise.resolve({ kind: 'no-set' });
      const ttl = Math.max(1, Math.round(ttlSeconds));
      const key = `${s.label}|${addressText}`;
      const prev = known.get(key);
      const t = now();
      // Settled at once (no batch timer) when nothing needs writing: the DNS front awaits this
      // for every listed answer, and a popular name must cost it nothing.
      if (isFresh(s.label, addressText, ttl, t)) return Promise.resolve({ kind: 'unchanged' });
      const same = queued.get(key);
      if (same !== undefined) return same;
      const p = enqueue(target.netns, { set: s, address: addressText, ttl, kind: prev !== undefined && prev > t ? 'refresh' : 'add' });
      queued.set(key, p);
      void p.then(() => {
        if (queued.get(key) === p) queued.delete(key);
      });
      return p;
    },
    remove(target, family, addressText) {
      const s = setKey(target, family);
      if (!s) return Promise.resolve({ kind: 'no-set' });
      return enqueue(target.netns, { set: s, address: addressText, ttl: 0, kind: 'remove' });
    },
    async flush() {
      for (const [key, lane] of lanes) {
        const netns = key === '' ? undefined : key;
        while (lane.writes.busy || lane.pending.some((o) => (missing.get(o.set.label)?.until ?? 0) <= now())) {
          lane.timer?.cancel();
          lane.timer = undefined;
          kick(netns, lane);
          await lane.writes.idle();
        }
      }
    },
    unavailable(target, family) {
      const s = setKey(target, family);
      return s !== undefined && missing.has(s.label) ? `set-sync: learned set ${setRefText(s.ref)} is missing (create it, or set createSets)` : undefined;
    },
    expiryOf(target, family, addressText) {
      const s = setKey(target, family);
      const e = s && known.get(`${s.label}|${addressText}`);
      return e !== undefined && e > now() ? e : undefined;
    },
    expiryReader(target, family) {
      const s = setKey(target, family);
      if (s === undefined) return undefined;
      const prefix = `${s.label}|`;
      const t = now();
      return (addressText) => {
        const written = known.get(prefix + addressText);
        const queued = intended.get(prefix + addressText)?.expires;
        const e = written === undefined ? queued : queued === undefined ? written : Math.max(written, queued);
        return e !== undefined && e > t ? e : undefined;
      };
    },
    async stop() {
      await api.flush();
      stopped = true;
      clearInterval(sweep);
      await replay.stop();
      for (const lane of lanes.values()) {
        lane.timer?.cancel();
        lane.timer = undefined;
        for (const op of lane.pending.splice(0)) op.done({ kind: 'failed', error: 'set-sync: learned sets stopped' });
      }
    },
  };
  return api;
}

/** Element operations an op costs the kernel in one transaction: a refresh is add + delete + add. */
const weight = (op: Op): number => (op.kind === 'refresh' ? 3 : op.kind === 'remove' ? 2 : 1);

/**
 * Consecutive batches of at most `bound` element operations (setSync.maxTransactionPrefixes): the
 * kernel holds a notification per element until a transaction commits, so a burst (a replay after
 * a reload, a queue that grew while a set was missing) must not become one huge transaction.
 */
function cutBatches(ops: readonly Op[], bound: number): Op[][] {
  const batches: Op[][] = [];
  let cur: Op[] = [];
  let n = 0;
  for (const op of ops) {
    if (cur.length > 0 && n + weight(op) > bound) {
      batches.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(op);
    n += weight(op);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}
