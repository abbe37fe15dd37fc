import type { Logger } from 'pino';
import type { FetchFn, FetchOutcome, FetchRequest } from '../lib/fetch/index.js';
import type { EntryGuard } from '../lib/ip-prefix/bogons.js';
import { emptyRangeSet } from '../lib/ip-prefix/range-writer.js';
import { rangeSetsEqual, unionRangeSets } from '../lib/ip-prefix/set-ops.js';
import type { RangeSet } from '../lib/ip-prefix/range-set.js';
import type { ListConfig } from './config.js';
import { decideSource, type SourceAttempt, type SourceDecision, type SourceState } from './guard.js';
import type { BlocklistMetrics } from './metrics.js';
import { bodyDigest } from './body-digest.js';
import { parseSource, type EntryBudget } from './source-parse.js';

/** The canonical model of one list: the union of its sources, merged per family. */
export interface ListModel {
  list: string;
  ipv4: RangeSet;
  ipv6: RangeSet;
  /** Normalised, sorted, unique; the learner matches answers against them (src/learner/list-matchers.ts). */
  domains: readonly string[];
  /** When this model was built from downloaded data, ms since the epoch. */
  updatedAt: number;
}

export interface SourceReport {
  url: string;
  outcome: 'updated' | 'not-modified' | 'kept-last-good' | 'failed';
  /** Entries in the downloaded document / taken from it (only when it was parsed). */
  fetched?: number;
  parsed?: number;
  rejected: Record<string, number>;
  /** Why the download was not taken (a FetchFailureReason, 'parse' or 'below-min-ratio'). */
  reason?: string;
  error?: string;
  /** The body was the same as the last good download's (body-digest.ts): its data was kept, not parsed again. */
  sameBody?: true;
}

/**
 * Download, parse and guard each source of a list, one at a time (a router has little memory to
 * hold several 64 MiB bodies at once). Returns the per-source decisions; never throws for bad data.
 */
export async function refreshSources(
  list: ListConfig,
  guard: EntryGuard,
  prev: ReadonlyMap<string, SourceState>,
  deps: { fetch: FetchFn; logger: Logger; metrics: BlocklistMetrics; now: () => number; signal: AbortSignal },
): Promise<{ decision: SourceDecision; report: SourceReport }[]> {
  const out: { decision: SourceDecision; report: SourceReport }[] = [];
  /** What each source holds now (this round's decision, else its last good data): the caps' baseline. */
  const held = new Map<string, SourceState>(prev);
  for (const source of list.sources) {
    const last = prev.get(source.url);
    const t0 = performance.now();
    const req: FetchRequest = {
      url: source.url,
      ...(last?.etag !== undefined ? { etag: last.etag } : {}),
      ...(last?.lastModified !== undefined ? { lastModified: last.lastModified } : {}),
      ...(source.timeoutMs !== undefined ? { timeoutMs: source.timeoutMs } : {}),
      ...(source.maxBytes !== undefined ? { maxBytes: source.maxBytes } : {}),
      signal: deps.signal,
    };
    // The seam promises values, but a throwing fetch must cost one source, not the whole refresh.
    const res: FetchOutcome = await Promise.resolve()
      .then(() => deps.fetch(req))
      .catch((err: unknown) => ({ kind: 'failed', reason: 'network', error: `fetch threw: ${String(err)}`, attempts: 1 }));
    deps.metrics.fetchDuration.observe({ list: list.name }, (performance.now() - t0) / 1000);
    const report: SourceReport = { url: source.url, outcome: 'failed', rejected: {} };
    let attempt: SourceAttempt;
    if (res.kind === 'failed') attempt = { kind: 'fetch-failed', reason: res.reason, error: res.error };
    else if (res.kind === 'not-modified') attempt = { kind: 'not-modified' };
    else {
      const digest = bodyDigest(res.body, source, list);
      const budget = budgetFor(list, source.url, held);
      if (last?.bodyDigest === digest && last.ipv4.size + last.ipv6.size <= budget.addresses && last.domains.length <= budget.domains) {
        // The same body as the last good download: the same data, without parsing it again.
        const { etag: _e, lastModified: _m, ...rest } = last;
        const state: SourceState = { ...rest, fetchedAt: deps.now() };
        if (res.etag !== undefined) state.etag = res.etag;
        if (res.lastModified !== undefined) state.lastModified = res.lastModified;
        report.parsed = last.parsed;
        report.sameBody = true;
        attempt = { kind: 'parsed', state };
      } else attempt = parseBody(res, digest, { list, source, guard, budget, deps, report });
    }
    const decision = decideSource(last, attempt, list.minRatio);
    report.outcome = decision.outcome;
    if (decision.outcome === 'kept-last-good' || decision.outcome === 'failed') {
      report.reason = decision.reason;
      report.error = decision.error;
      deps.metrics.fetchFailures.inc({ list: list.name, source: source.url, reason: decision.reason });
      deps.logger.warn(
        { list: list.name, source: source.url, reason: decision.reason, error: decision.error, keptEntries: decision.outcome === 'kept-last-good' ? decision.state.parsed : 0 },
        decision.outcome === 'kept-last-good'
          ? `blocklist: ${list.name}: ${source.url} not taken (${decision.reason}); keeping its last good data`
          : `blocklist: ${list.name}: ${source.url} failed (${decision.reason}) and there is no earlier data for it`,
      );
    }
    if (decision.outcome === 'failed') held.delete(source.url);
    else held.set(source.url, decision.state);
    out.push({ decision, report });
  }
  return out;
}

/** Parse and validate a downloaded body into a source's next state (or why it is not taken); counts and logs its rejects. */
function parseBody(
  res: { body: Buffer; etag?: string; lastModified?: string },
  digest: string,
  c: { list: ListConfig; source: ListConfig['sources'][number]; guard: EntryGuard; budget: EntryBudget; deps: { logger: Logger; metrics: BlocklistMetrics; now: () => number }; report: SourceReport },
): SourceAttempt {
  const parsed = parseSource(res.body, c.source, c.guard, c.budget);
  if (parsed.kind !== 'parsed') return parsed;
  c.report.fetched = parsed.fetched;
  c.report.parsed = parsed.parsed;
  c.report.rejected = { ...parsed.rejected } as Record<string, number>;
  for (const [reason, n] of Object.entries(parsed.rejected)) c.deps.metrics.rejected.inc({ list: c.list.name, reason }, n);
  // One line per source, with a sample of each kind of rejected entry.
  c.deps.logger.info(
    {
      list: c.list.name,
      source: c.source.url,
      fetched: parsed.fetched,
      parsed: parsed.parsed,
      ipv4: parsed.ipv4.size,
      ipv6: parsed.ipv6.size,
      domains: parsed.domains.length,
      rejected: parsed.rejected,
      samples: parsed.samples,
    },
    `blocklist: ${c.list.name}: read ${c.source.url}`,
  );
  const state: SourceState = { url: c.source.url, fetchedAt: c.deps.now(), parsed: parsed.parsed, bodyDigest: digest, ipv4: parsed.ipv4, ipv6: parsed.ipv6, domains: parsed.domains };
  if (res.etag !== undefined) state.etag = res.etag;
  if (res.lastModified !== undefined) state.lastModified = res.lastModified;
  return { kind: 'parsed', state };
}

/** The caps minus what the list's other sources hold, so their union stays within them. */
function budgetFor(list: ListConfig, url: string, held: ReadonlyMap<string, SourceState>): EntryBudget {
  let addresses = 0;
  let domains = 0;
  for (const [u, s] of held) {
    if (u === url) continue;
    addresses += s.ipv4.size + s.ipv6.size;
    domains += s.domains.length;
  }
  return {
    addresses: Math.max(0, list.maxEntries - addresses),
    domains: Math.max(0, list.maxDomains - domains),
    describe: (what, seen) => {
      const [cap, key, others] = what === 'addresses' ? [list.maxEntries, 'maxEntries', addresses] : [list.maxDomains, 'maxDomains', domains];
      return `more than ${seen - 1} ${what === 'addresses' ? 'address entries' : 'domains'}${others > 0 ? ` beside the ${others} the list's other sources hold` : ''}: over the list's cap of ${cap} (raise "${key}" of list "${list.name}" if it really is that large); parsing stopped, the last good data stays`;
    },
  };
}

/** Union of the sources' data; undefined when no source has ever delivered. */
export function buildModel(list: string, states: readonly SourceState[], updatedAt: number): ListModel | undefined {
  if (states.length === 0) return undefined;
  const one = states.length === 1 ? states[0] : undefined;
  return {
    list,
    ipv4: one ? one.ipv4 : unionRangeSets([emptyRangeSet('ipv4'), ...states.map((s) => s.ipv4)]),
    ipv6: one ? one.ipv6 : unionRangeSets([emptyRangeSet('ipv6'), ...states.map((s) => s.ipv6)]),
    domains: one ? one.domains : [...new Set(states.flatMap((s) => s.domains))].sort(),
    updatedAt,
  };
}

export function sameModel(a: ListModel | undefined, b: ListModel | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (!rangeSetsEqual(a.ipv4, b.ipv4) || !rangeSetsEqual(a.ipv6, b.ipv6) || a.domains.length !== b.domains.length) return false;
  return a.domains.every((d, i) => d === b.domains[i]);
}
