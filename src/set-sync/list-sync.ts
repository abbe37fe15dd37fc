import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorMessage, isSidecarError } from '../errors.js';
import { SerialQueues } from '../lib/concurrency/index.js';
import { rangeSetsEqual, type RangeSet } from '../lib/ip-prefix/index.js';
import type { MonitorHandle, NftEvent } from '../lib/nft/monitor.js';
import type { NftBackend } from '../lib/nft/nft-backend.js';
import { createDefaultNftBackend } from '../lib/nft/netlink/netlink-backend.js';
import { DEFAULT_MAX_QUIET_TRANSACTION_PREFIXES, DEFAULT_MAX_TRANSACTION_PREFIXES } from './config.js';
import { createSetSyncMetrics } from './metrics.js';
import { NETLINK_COSTS, NFT_CLI_COSTS, type CostModel } from './set-plan.js';
import { RecordKeeper } from './record-keeper.js';
import { checkFlags, dryRunSet } from './set-inspect.js';
import { readKernel, SetState, writeGroup, type ApplyReport, type Member, type WriterDeps } from './set-sync.js';

export interface SetTarget {
  list: string;
  family: 'inet' | 'ip' | 'ip6';
  table: string;
  set4?: string;
  set6?: string;
  netns?: string;
  createSets: boolean;
}

/** `set` is the display label ("inet global force_vpn4 (netns vpn)"); `list` the list it serves. */
export interface SetSyncStatus {
  set: string;
  list: string;
  elements: number;
  lastApplyAt?: number;
  lastError?: string;
}

export interface SetSync {
  /**
   * Makes the target's sets equal to the model (dryRun: compare with the kernel, touch nothing).
   * Writes to one table run one at a time; per target, newest-wins: while a write runs only the
   * newest model waits, and a caller whose model was replaced before its turn gets the reports of
   * the write that replaced it (so the promise of the newest call settles last).
   */
  apply(target: SetTarget, model: { ipv4: RangeSet; ipv6: RangeSet }, opts?: { dryRun?: boolean }): Promise<ApplyReport[]>;
  /** Follows nftables changes (per namespace) and refills sets that are flushed, deleted or re-created. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SetSyncStatus[];
}

/** After the first event of a burst (an nftables reload is one), refill this much later: well within the 2 s promise. */
const REFILL_DEBOUNCE_MS = 200;
/** `nft -j monitor` only: after the last event taken for our own echo, read the set back this much later. */
const VERIFY_DEBOUNCE_MS = 300;
/** …when it is small enough for a listing to be cheap (the listing is a quadratic kernel dump). */
const VERIFY_MAX = 100_000;
const RETRY_MAX_MS = 60_000;

/**
 * The only owner of nftables state. The backend defaults to netlink where it can run (else the nft
 * binary); `costs` defaults to that backend's measured cost model; tests pass their own to force a mode.
 * `maxTransactionPrefixes` (setSync.maxTransactionPrefixes) bounds every transaction it sends;
 * `maxQuietTransactionPrefixes` those of a bulk write while nobody else listens (README: Kernel memory).
 */
export function createSetSync(opts: {
  logger: Logger;
  registry: Registry;
  backend?: NftBackend;
  costs?: CostModel;
  maxTransactionPrefixes?: number;
  maxQuietTransactionPrefixes?: number;
  recordDir?: string;
}): SetSync {
  const logger = opts.logger.child({ component: 'set-sync' });
  const raw = opts.backend ?? createDefaultNftBackend();
  const costs = opts.costs ?? (raw.kind === 'netlink' ? NETLINK_COSTS : NFT_CLI_COSTS);
  const metrics = createSetSyncMetrics(opts.registry);
  // Every transaction, first attempts and repairs alike, passes here: a deadline is counted and logged once per expiry.
  const backend: NftBackend = {
    ...(raw.kind !== undefined ? { kind: raw.kind } : {}),
    async apply(commands, netns) {
      try {
        await raw.apply(commands, netns);
      } catch (err) {
        if (isSidecarError(err, 'NFT_TIMEOUT')) {
          metrics.nftTimeouts.inc();
          logger.error({ netns, err: errorMessage(err) }, 'set-sync: nftables transaction timed out; reading the sets back and repairing them on a fresh socket');
        }
        throw err;
      }
    },
    describeSet: (ref, netns) => raw.describeSet(ref, netns),
    listSet: (ref, netns) => raw.listSet(ref, netns),
    ...(raw.readRanges ? { readRanges: raw.readRanges.bind(raw) } : {}),
    monitor: (o) => raw.monitor(o),
    ...(raw.quietWindow ? { quietWindow: raw.quietWindow.bind(raw) } : {}),
    ...(raw.kernelStamp ? { kernelStamp: raw.kernelStamp.bind(raw) } : {}),
  };
  const bound = opts.maxTransactionPrefixes ?? DEFAULT_MAX_TRANSACTION_PREFIXES;
  const d: WriterDeps = {
    backend,
    bound,
    quietBound: Math.max(bound, opts.maxQuietTransactionPrefixes ?? DEFAULT_MAX_QUIET_TRANSACTION_PREFIXES),
    costs,
    metrics,
    logger,
    ...(opts.recordDir !== undefined ? { records: new RecordKeeper(opts.recordDir, backend, logger) } : {}),
  };
  const sets = new Map<string, SetState>();
  /**
   * Writes to one table are serialised and, when full, done together (see fullLoad). Applies are
   * newest-wins per target: while a write runs, only the newest model of a target waits.
   */
  const queues = new SerialQueues();
  const monitors = new Map<string, MonitorHandle>();
  const verifyTimers = new Map<SetState, NodeJS.Timeout>();
  let started = false;

  const groupOf = (s: { netns?: string | undefined; ref: { family: string; table: string } }): string => `${s.netns ?? ''}|${s.ref.family}|${s.ref.table}`;
  const keyOf = (netns: string | undefined, family: string, table: string, set: string): string => `${netns ?? ''}|${family}|${table}|${set}`;

  const enqueue = <T>(group: string, job: () => Promise<T>): Promise<T> => queues.run(group, job);

  /** Every set of the group that has a model: what a refill writes. */
  const membersOf = (group: string): Member[] => [...sets.values()].flatMap((s) => (groupOf(s) === group && s.desired !== undefined ? [{ s, desired: s.desired }] : []));

  function scheduleRetry(s: SetState): void {
    if (s.retryTimer || !started) return;
    const delay = s.retryDelayMs;
    s.retryDelayMs = Math.min(delay * 2, RETRY_MAX_MS);
    s.retryTimer = setTimeout(() => {
      s.retryTimer = undefined;
      void refill(s, undefined);
    }, delay);
    s.retryTimer.unref();
  }

  /** Full load of the set's table from the models: the kernel set is known to differ (flushed, re-created, changed by others). */
  function refill(s: SetState, reason: string | undefined): Promise<void> {
    if (s.desired === undefined) return Promise.resolve();
    const group = groupOf(s);
    return enqueue(group, async () => {
      s.invalidate();
      try {
        const members = membersOf(group);
        // This writes the whole group: refills already scheduled for its other sets would only repeat it.
        for (const m of members) {
          clearTimeout(m.s.refillTimer);
          m.s.refillTimer = undefined;
        }
        const r = await writeGroup(d, members);
        for (const m of members) m.s.retryDelayMs = 1000;
        if (reason) d.metrics.refills.inc({ reason });
        logger.info({ set: s.label, reason: reason ?? 'retry', elements: s.desired?.size, ms: Math.round(r[0]?.durationMs ?? 0) }, 'set-sync: set refilled from the model');
      } catch (err) {
        logger.error({ set: s.label, err: errorMessage(err), retryInMs: s.retryDelayMs }, 'set-sync: refill failed');
        scheduleRetry(s);
      }
    });
  }

  function scheduleRefill(s: SetState, reason: string): void {
    if (s.refillTimer) return;
    s.refillTimer = setTimeout(() => {
      s.refillTimer = undefined;
      void refill(s, reason);
    }, REFILL_DEBOUNCE_MS);
  }

  /**
   * `nft -j monitor` cannot say who made a change, so the echo filter guesses by counting, and a
   * foreign flush landing among our own echoes would be taken for one of them. Every guess of
   * "ours" is therefore checked: once the burst is over the set is read back and refilled if it is
   * not what we wrote. Sets too big to list cheaply are not checked (README: Reload resilience).
   */
  function scheduleVerify(s: SetState): void {
    clearTimeout(verifyTimers.get(s));
    const timer = setTimeout(() => {
      verifyTimers.delete(s);
      void enqueue(groupOf(s), async () => {
        const applied = s.applied;
        if (applied === undefined || applied.size > VERIFY_MAX || !started) return;
        const kernel = await readKernel(d, s).catch(() => undefined);
        if (kernel?.kind === 'exact' && rangeSetsEqual(kernel.set, applied)) return;
        logger.warn({ set: s.label }, 'set-sync: set differs from what we wrote after a change nft monitor could not attribute');
        s.invalidate();
        scheduleRefill(s, 'foreign');
      });
    }, VERIFY_DEBOUNCE_MS);
    timer.unref();
    verifyTimers.set(s, timer);
  }

  /** `e.origin` (netlink) is exact: our own changes are skipped, everything else refills. Without it, the echo filter guesses and each guess is verified. */
  function onEvent(netns: string | undefined, e: NftEvent): void {
    if (e.origin === 'own') return;
    for (const s of sets.values()) {
      if (s.netns !== netns || s.ref.family !== e.family || s.ref.table !== e.table || s.desired === undefined) continue;
      if (e.kind === 'table' || e.kind === 'set') {
        if (e.kind === 'set' && e.set !== s.ref.set) continue;
        if (e.origin === undefined && e.op === 'add' && s.echo.expectingCreate()) {
          scheduleVerify(s);
          continue;
        }
        // A deleted set is empty when it comes back; a re-created one is empty now.
        s.invalidate();
        scheduleRefill(s, 'recreated');
      } else if (e.set === s.ref.set) {
        if (e.origin === undefined && s.echo.ours(e.op, e.count)) scheduleVerify(s);
        else scheduleRefill(s, e.op === 'delete' ? 'flushed' : 'foreign');
      }
    }
  }

  function ensureMonitor(netns: string | undefined): void {
    const key = netns ?? '';
    if (!started || monitors.has(key)) return;
    let wasUp = false;
    const refillAll = (reason: string): void => {
      for (const s of sets.values()) {
        if (s.netns !== netns) continue;
        s.invalidate();
        scheduleRefill(s, reason);
      }
    };
    monitors.set(
      key,
      d.backend.monitor({
        ...(netns !== undefined ? { netns } : {}),
        onEvent: (e) => onEvent(netns, e),
        onState: (state, detail) => {
          if (state === 'down') logger.warn({ netns, detail }, 'set-sync: nftables monitor stopped; restarting');
          // Events were dropped (receive buffer overflow): what the sets hold is unknown.
          if (state === 'lost') {
            logger.warn({ netns, detail }, 'set-sync: nftables events were lost; refilling every set in the namespace');
            refillAll('lost');
          }
          // Events were lost while it was down: refill every set it covers.
          if (state === 'up' && wasUp) refillAll('monitor');
          if (state === 'up') wasUp = true;
        },
      }),
    );
  }

  function stateFor(t: SetTarget, name: string, ipFamily: 'ipv4' | 'ipv6'): SetState {
    const key = keyOf(t.netns, t.family, t.table, name);
    let s = sets.get(key);
    if (!s) {
      s = new SetState(t.family, t.table, name, ipFamily, t.netns, t.createSets);
      sets.set(key, s);
    }
    s.createSets = t.createSets;
    s.list = t.list;
    ensureMonitor(t.netns);
    return s;
  }

  return {
    async apply(target, model, applyOpts = {}) {
      const jobs: Member[] = [];
      if (target.set4 !== undefined) jobs.push({ s: stateFor(target, target.set4, 'ipv4'), desired: model.ipv4 });
      if (target.set6 !== undefined) jobs.push({ s: stateFor(target, target.set6, 'ipv6'), desired: model.ipv6 });
      if (applyOpts.dryRun) return Promise.all(jobs.map((m) => dryRunSet(d, m.s, m.desired)));
      const first = jobs[0];
      if (!first) return [];
      for (const m of jobs) m.s.desired = m.desired;
      const group = groupOf(first.s);
      try {
        // This target's sets together; another list's sets in the same table are listed by nft on every write (README).
        // Newest-wins: a model replaced while it waits for the table is never written; its caller gets the newer one's reports.
        const slot = jobs.map((m) => m.s.ref.set).join(' ');
        const reports = await queues.latest(group, slot, jobs, (newest) => writeGroup(d, newest));
        for (const { s } of jobs) {
          s.retryDelayMs = 1000;
          if (!s.flagsChecked) {
            s.flagsChecked = true;
            void checkFlags(d, s).catch((err: unknown) => logger.debug({ set: s.label, err: errorMessage(err) }, 'set-sync: flags check failed'));
          }
        }
        return reports;
      } catch (err) {
        // The models are kept: a missing set is retried with backoff and filled as soon as it appears.
        for (const { s } of jobs) scheduleRetry(s);
        throw err;
      }
    },
    async start() {
      started = true;
      for (const s of sets.values()) ensureMonitor(s.netns);
      for (const s of sets.values()) if (s.lastError !== undefined) scheduleRetry(s);
    },
    async stop() {
      started = false;
      for (const s of sets.values()) {
        clearTimeout(s.retryTimer);
        clearTimeout(s.refillTimer);
        clearTimeout(verifyTimers.get(s));
        s.retryTimer = s.refillTimer = undefined;
      }
      await Promise.all([...monitors.values()].map((m) => m.stop()));
      monitors.clear();
      verifyTimers.clear();
      await queues.idle();
    },
    status: () =>
      [...sets.values()].map((s) => ({
        set: s.label,
        list: s.list,
        elements: s.applied?.size ?? 0,
        ...(s.lastApplyAt !== undefined ? { lastApplyAt: s.lastApplyAt } : {}),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      })),
  };
}
