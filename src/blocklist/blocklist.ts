import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SidecarError, errorMessage } from '../errors.js';
import { createFetcher, type FetchFn } from '../lib/fetch/index.js';
import { EntryGuard } from '../lib/ip-prefix/bogons.js';
import type { ListConfig } from './config.js';
import type { SourceState } from './guard.js';
import { buildModel, refreshSources, sameModel, type ListModel, type SourceReport } from './list-refresh.js';
import { createBlocklistMetrics } from './metrics.js';
import { readSnapshot, removeStaleTemps, snapshotPath, writeSnapshot } from './snapshot.js';

export type ListOutcome = 'updated' | 'unchanged' | 'kept-last-good' | 'partial' | 'failed';

export interface ListSyncReport {
  list: string;
  /**
   * partial / failed: some / every source has no good data at all (it failed and never delivered,
   * not even into the snapshot). The union of the others is not the list, so nothing is published:
   * the sets keep the last good model, or are left alone when there is none yet. Otherwise: updated
   * (the model changed and was published), kept-last-good (a source was not taken, its last good
   * data stands), unchanged. A 304 is good data (the source's last download).
   */
  outcome: ListOutcome;
  /** URLs of the sources without any good data (partial / failed). */
  missing: string[];
  sources: SourceReport[];
  entries: { ipv4: number; ipv6: number };
  durationMs: number;
}

/** For the status page and `unbound-sidecar status`. Times are Unix ms. */
export interface ListRefreshStatus {
  list: string;
  refreshMs: number;
  lastSyncAt?: number;
  outcome?: ListOutcome;
  lastSuccessAt?: number;
  lastError?: string;
}

export interface BlocklistOptions {
  lists: readonly ListConfig[];
  stateDir: string;
  logger: Logger;
  registry: Registry;
  /** The download seam; default: an undici fetcher closed by stop(). */
  fetch?: FetchFn;
  /** First scheduled refresh after start(), ms (default 2000, plus jitter). */
  firstRunDelayMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface Blocklist {
  /** At start, before any download: restores and publishes each list's last good model. */
  loadSnapshots(): Promise<ListModel[]>;
  /** Fetch + parse + guard (+ snapshot when new data was taken) for one list or all; publishes changed, complete models. */
  refresh(list?: string): Promise<ListSyncReport[]>;
  /** Called with every model that becomes current (snapshot load or a changed refresh). */
  onModel(listener: (m: ListModel) => void): () => void;
  current(list: string): ListModel | undefined;
  status(): ListRefreshStatus[];
  /** Timers: each list every `refresh` ±10%; the first run soon after start. */
  start(): void;
  stop(): Promise<void>;
}

interface ListState {
  config: ListConfig;
  guard: EntryGuard;
  sources: Map<string, SourceState>;
  model?: ListModel;
  lastSuccessAt?: number;
  lastSyncAt?: number;
  lastOutcome?: ListOutcome;
  lastError?: string | undefined;
  inflight?: Promise<ListSyncReport> | undefined;
  timer?: NodeJS.Timeout;
}

export function createBlocklist(opts: BlocklistOptions): Blocklist {
  const { logger } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const metrics = createBlocklistMetrics(opts.registry);
  const ownFetcher = opts.fetch ? undefined : createFetcher();
  const fetch: FetchFn = opts.fetch ?? ((r) => (ownFetcher as NonNullable<typeof ownFetcher>).fetch(r));
  const listeners = new Set<(m: ListModel) => void>();
  const abort = new AbortController();
  let running = false;
  const lists = new Map<string, ListState>(opts.lists.map((c) => [c.name, { config: c, guard: new EntryGuard({ minPrefix: c.minPrefix, exclude: c.exclude }), sources: new Map() }]));

  for (const c of opts.lists) metrics.refreshInterval.set({ list: c.name }, c.refresh / 1000);

  function publish(st: ListState, model: ListModel): void {
    st.model = model;
    metrics.entries.set({ list: model.list, family: 'ipv4' }, model.ipv4.size);
    metrics.entries.set({ list: model.list, family: 'ipv6' }, model.ipv6.size);
    metrics.domains.set({ list: model.list }, model.domains.length);
    for (const l of listeners) {
      try {
        l(model);
      } catch (err) {
        logger.error({ list: model.list, err: errorMessage(err) }, 'blocklist: a model listener threw');
      }
    }
  }

  async function loadOne(st: ListState): Promise<ListModel | undefined> {
    const file = snapshotPath(opts.stateDir, st.config.name);
    await removeStaleTemps(file);
    const read = await readSnapshot(file, st.config.name);
    if (read.kind === 'none') return undefined;
    if (read.kind === 'corrupt') {
      metrics.snapshotErrors.inc({ list: st.config.name, op: 'read' });
      logger.warn({ list: st.config.name, file, problem: read.problem }, `blocklist: ${st.config.name}: ignoring snapshot ${file}: ${read.problem}; the list stays empty until the first download`);
      return undefined;
    }
    const snap = read.snapshot;
    const configured = new Set(st.config.sources.map((s) => s.url));
    for (const s of snap.sources) {
      if (!configured.has(s.url)) continue; // a source removed from the config takes its entries with it
      // Re-cut: `exclude` may have grown since the snapshot was written.
      st.sources.set(s.url, { ...s, ipv4: st.guard.cut(s.ipv4), ipv6: st.guard.cut(s.ipv6) });
    }
    if (snap.lastSuccessAt !== undefined) {
      st.lastSuccessAt = snap.lastSuccessAt;
      metrics.lastSuccess.set({ list: st.config.name }, snap.lastSuccessAt / 1000);
    }
    const missing = missingSources(st);
    metrics.missingSources.set({ list: st.config.name }, missing.length);
    if (missing.length > 0) {
      // The per-source data stays for the union once the missing sources deliver.
      logger.warn(
        { list: st.config.name, file, missing },
        `blocklist: ${st.config.name}: snapshot ${file} has no data for ${missing.join(', ')}; not restoring an incomplete list, the sets are left as they are until every source has delivered`,
      );
      return undefined;
    }
    const model = buildModel(st.config.name, [...st.sources.values()], snap.updatedAt);
    if (model) {
      publish(st, model);
      logger.info(
        { list: st.config.name, ipv4: model.ipv4.size, ipv6: model.ipv6.size, domains: model.domains.length, updatedAt: new Date(model.updatedAt).toISOString() },
        `blocklist: ${st.config.name}: restored from snapshot`,
      );
    }
    return model;
  }

  /** Configured sources with no good data at all: while there is one, the union is not the list. */
  function missingSources(st: ListState): string[] {
    return st.config.sources.filter((src) => !st.sources.has(src.url)).map((src) => src.url);
  }

  async function refreshOne(st: ListState): Promise<ListSyncReport> {
    const t0 = performance.now();
    const name = st.config.name;
    const results = await refreshSources(st.config, st.guard, st.sources, { fetch, logger, metrics, now, signal: abort.signal });
    const next = new Map<string, SourceState>();
    for (const { decision } of results) if (decision.outcome !== 'failed') next.set(decision.state.url, decision.state);
    st.sources = next;
    const outcomes = results.map((r) => r.report.outcome);
    const tookNew = outcomes.includes('updated');
    const allDelivered = outcomes.every((o) => o === 'updated' || o === 'not-modified');
    if (allDelivered) {
      st.lastSuccessAt = now();
      metrics.lastSuccess.set({ list: name }, st.lastSuccessAt / 1000);
    }
    const missing = missingSources(st);
    metrics.missingSources.set({ list: name }, missing.length);
    const candidate = buildModel(name, [...next.values()], now());
    const changed = missing.length === 0 && candidate !== undefined && !sameModel(st.model, candidate);
    if (tookNew && candidate) {
      const file = snapshotPath(opts.stateDir, name);
      const updatedAt = changed ? candidate.updatedAt : (st.model?.updatedAt ?? candidate.updatedAt);
      try {
        await writeSnapshot(file, { list: name, updatedAt, ...(st.lastSuccessAt !== undefined ? { lastSuccessAt: st.lastSuccessAt } : {}), sources: [...next.values()] });
      } catch (err) {
        metrics.snapshotErrors.inc({ list: name, op: 'write' });
        logger.error({ list: name, file, err: errorMessage(err) }, `blocklist: ${name}: cannot write snapshot ${file}; a restart without internet would start empty`);
      }
    }
    if (changed) publish(st, candidate);
    const outcome: ListOutcome =
      missing.length === st.config.sources.length ? 'failed' : missing.length > 0 ? 'partial' : changed ? 'updated' : outcomes.includes('kept-last-good') ? 'kept-last-good' : 'unchanged';
    metrics.refreshes.inc({ list: name, outcome });
    st.lastSyncAt = now();
    st.lastOutcome = outcome;
    const bad = results.find((r) => r.report.outcome === 'failed' || r.report.outcome === 'kept-last-good')?.report;
    const why = bad ? `${bad.url}: ${bad.error ?? bad.reason ?? bad.outcome}` : undefined;
    if (missing.length > 0) {
      const kept = st.model ? `the sets keep the last good model (${st.model.ipv4.size} IPv4 + ${st.model.ipv6.size} IPv6 ranges)` : 'the sets are left as they are';
      st.lastError = `incomplete: no good data yet from ${missing.join(', ')}; ${kept}${why ? ` (${why})` : ''}`;
      logger.warn({ list: name, missing, kept: st.model !== undefined }, `blocklist: ${name}: ${st.lastError}`);
    } else {
      st.lastError = why;
    }
    const model = st.model;
    return {
      list: name,
      outcome,
      missing,
      sources: results.map((r) => r.report),
      entries: { ipv4: model?.ipv4.size ?? 0, ipv6: model?.ipv6.size ?? 0 },
      durationMs: Math.round(performance.now() - t0),
    };
  }

  /** One refresh per list at a time: a SIGHUP during the hourly run joins it. */
  function refreshCoalesced(st: ListState): Promise<ListSyncReport> {
    st.inflight ??= refreshOne(st).finally(() => {
      st.inflight = undefined;
    });
    return st.inflight;
  }

  function schedule(st: ListState, delayMs: number): void {
    if (!running) return;
    st.timer = setTimeout(() => {
      refreshCoalesced(st)
        .catch((err: unknown) => logger.error({ list: st.config.name, err: errorMessage(err) }, 'blocklist: refresh failed unexpectedly'))
        .finally(() => schedule(st, st.config.refresh * (0.9 + 0.2 * random())));
    }, delayMs);
    st.timer.unref();
  }

  return {
    async loadSnapshots() {
      const models: ListModel[] = [];
      for (const st of lists.values()) {
        const m = await loadOne(st);
        if (m) models.push(m);
      }
      return models;
    },
    async refresh(list) {
      const targets = list === undefined ? [...lists.values()] : [lists.get(list)];
      const reports: ListSyncReport[] = [];
      for (const st of targets) {
        if (!st) throw new SidecarError('LIST_UNKNOWN', 'blocklist', `no list named "${list}" (configured: ${[...lists.keys()].join(', ') || 'none'})`);
        reports.push(await refreshCoalesced(st));
      }
      return reports;
    },
    onModel(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    current: (list) => lists.get(list)?.model,
    status: () =>
      [...lists.values()].map((st) => ({
        list: st.config.name,
        refreshMs: st.config.refresh,
        ...(st.lastSyncAt !== undefined ? { lastSyncAt: st.lastSyncAt } : {}),
        ...(st.lastOutcome !== undefined ? { outcome: st.lastOutcome } : {}),
        ...(st.lastSuccessAt !== undefined ? { lastSuccessAt: st.lastSuccessAt } : {}),
        ...(st.lastError !== undefined ? { lastError: st.lastError } : {}),
      })),
    start() {
      if (running) return;
      running = true;
      const first = opts.firstRunDelayMs ?? 2_000;
      // Spread lists a little so they do not all download at the same instant.
      for (const st of lists.values()) schedule(st, first + random() * 0.1 * Math.min(st.config.refresh, 60_000));
    },
    async stop() {
      running = false;
      for (const st of lists.values()) clearTimeout(st.timer);
      abort.abort(new Error('blocklist stopping'));
      await Promise.allSettled([...lists.values()].map((st) => st.inflight));
      await ownFetcher?.close();
    },
  };
}
