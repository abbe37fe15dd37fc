import type { Logger } from 'pino';
import { RRType, type Question, type ResourceRecord, type ZoneAnswer } from '../lib/dns-wire/types.js';
import { AnswerCache, KnownNames, type CachedAnswer } from './answer-cache.js';
import { minimalAnyAnswer, synthesizedHinfo } from './any-answer.js';
import type { LocalNamesConfig } from './config.js';
import { ConcurrencyLimiter } from '../lib/concurrency/limiter.js';
import { existenceTypes, lookupMode } from './lookup-shape.js';
import type { LocalNamesMetrics } from './metrics.js';
import { mdnsNameProblem } from './mdns-name.js';
import { NameIndex } from './name-index.js';
import { createAnswerPolicy } from './policy.js';
import type { BackendResult, LocalResolver } from './resolver.js';

export interface LocalNames {
  /** Answer one question in a local zone. Never throws. */
  resolve(question: Question, signal?: AbortSignal): Promise<ZoneAnswer>;
  /** Drop cached answers (e.g. after the backend changed). */
  flush(): void;
  /**
   * The backend came up, went down or was switched: for `settleMs` the missing-type shortcut is
   * off, because a backend that just started answers late (see `existingNameWaitMs` below).
   */
  backendChanged(): void;
}

/** What one (name, type) came to: the cache entry, or SERVFAIL (never cached). */
type TypeOutcome = CachedAnswer | { kind: 'servfail'; reason: string };

/** The first outcome with records (alone), or every outcome once all have settled without any. */
function firstWithRecords(lookups: readonly Promise<TypeOutcome>[]): Promise<TypeOutcome[]> {
  return new Promise((resolve) => {
    for (const p of lookups) void p.then((o) => o.kind === 'records' && resolve([o]));
    void Promise.all(lookups).then(resolve);
  });
}

/** The least a 'first' lookup of a name known to exist waits after the name became known, ms. */
const AFTER_KNOWN_MS = 50;

/**
 * Cache → policy → coalescing → limiter → backend. Cached answers never wait behind lookups, so a
 * flood of misses cannot delay them; identical (name, type) lookups in flight share one backend
 * lookup.
 *
 * A type with no records is NODATA when the name exists (records of another type, or names below
 * it) and NXDOMAIN only when nothing is known at or below it (RFC 2308 §2, RFC 8020). Existence is
 * learned from the name index (every positive answer), and, for a name it does not know, from
 * lookups of the types the backend names (`existenceTypes`) started beside the question — the same
 * coalesced, cached lookups a resolver asking A and AAAA at once (getaddrinfo AF_UNSPEC) makes
 * anyway. A unique-type lookup of a name known to exist ends after `existingNameWaitMs` instead of
 * `timeoutMs` (RFC 6762 §6: the owner answers unique records at once).
 */
export function createLocalNamesCore(opts: {
  config: LocalNamesConfig;
  backend: () => LocalResolver | undefined;
  metrics: LocalNamesMetrics;
  logger: Logger;
  /** How long after `backendChanged()` unique lookups wait for their own answer (default 0). */
  settleMs?: number;
}): LocalNames {
  const { config, metrics } = opts;
  let changedAt = Number.NEGATIVE_INFINITY;
  const settled = (): boolean => performance.now() - changedAt >= (opts.settleMs ?? 0);
  const policy = createAnswerPolicy(config.policy, config.ttl);
  const cache = new AnswerCache(config.cacheSize);
  const names = new NameIndex(config.cacheSize);
  const limiter = new ConcurrencyLimiter(config.maxConcurrentLookups, config.maxQueuedLookups, config.reservedLookups);
  const known = new KnownNames(config.cacheSize, config.knownNameSeconds);
  const inFlight = new Map<string, Promise<TypeOutcome>>();

  const underName = (records: readonly ResourceRecord[], askedName: string): ZoneAnswer => ({
    kind: 'answer',
    records: records.map((rr) => (rr.name === askedName ? rr : { ...rr, name: askedName })),
  });

  async function lookup(name: string, type: number, key: string, timeoutMs: number): Promise<TypeOutcome> {
    const backend = opts.backend();
    const backendKind = backend?.kind ?? 'none';
    if (!backend?.isUp()) {
      metrics.lookups.inc({ backend: backendKind, outcome: 'unavailable' });
      return { kind: 'servfail', reason: 'mDNS backend unavailable' };
    }
    // Names answered before go first and have slots of their own: with 4096 misses queued, an
    // expired printer.local used to wait behind every one of them and time out at the client.
    const priority = known.has(key);
    if (priority) metrics.priorityLookups.inc();
    const release = await limiter.acquire(undefined, priority);
    metrics.queued.set(limiter.queuedCount);
    if (!release) {
      metrics.lookups.inc({ backend: backendKind, outcome: 'overloaded' });
      return { kind: 'servfail', reason: 'too many lookups queued' };
    }
    metrics.inFlight.set(limiter.activeCount);
    const mode = lookupMode(name, type);
    const started = performance.now();
    const stop = new AbortController();
    let endedEarly = false;
    let earlyTimer: NodeJS.Timeout | undefined;
    // A unique type of a name known to exist: the owner would have answered by now (RFC 6762 §6).
    const unwatch =
      mode === 'first' && type !== RRType.ANY && config.existingNameWaitMs < timeoutMs && settled()
        ? names.whenKnown(name, () => {
            const now = performance.now();
            const at = Math.max(started + config.existingNameWaitMs, now + Math.min(AFTER_KNOWN_MS, config.existingNameWaitMs));
            earlyTimer = setTimeout(() => {
              endedEarly = true;
              stop.abort();
            }, at - now);
          })
        : () => {};
    let result: BackendResult;
    try {
      result = await backend.lookup({
        name,
        type,
        mode,
        timeoutMs,
        windowMs: Math.min(config.browseWindowMs, timeoutMs),
        signal: stop.signal,
        // Existence probes (ANY) settle on any record; address lookups not on an fe80:: one.
        ...(type === RRType.ANY ? {} : { usable: (t: number, data: Uint8Array) => policy.usable(t, data) }),
      });
    } catch (err) {
      // The LocalResolver contract says lookup never throws; if one does, that is a bug, not a negative.
      opts.logger.error({ err, name, type }, 'local-names: backend lookup threw');
      result = { kind: 'unavailable', reason: 'backend error' };
    } finally {
      unwatch();
      clearTimeout(earlyTimer);
      release();
      metrics.inFlight.set(limiter.activeCount);
      metrics.queued.set(limiter.queuedCount);
    }
    if (endedEarly && result.kind === 'unavailable') {
      metrics.existingNameNodata.inc();
      result = { kind: 'none', nameExists: true };
    }
    metrics.lookups.inc({ backend: backendKind, outcome: result.kind });
    switch (result.kind) {
      case 'unavailable':
        return { kind: 'servfail', reason: result.reason };
      case 'none':
        if (result.nameExists === true) names.learnExists(name, config.negativeCacheTtl);
        cache.set(key, { kind: 'absent' }, config.negativeCacheTtl);
        return { kind: 'absent' };
      case 'records': {
        // Every record proves the name exists, even one the policy drops (an fe80:: AAAA).
        names.learn(name, result.records);
        // RFC 6762 §6.7: legacy unicast answers carry at most 10 s; browses get `browseTtl`, so a
        // service that appears or leaves is seen through the resolver's cache within seconds.
        const capped = mode === 'collect' ? result.records.map((rr) => (rr.ttl > config.browseTtl ? { ...rr, ttl: config.browseTtl } : rr)) : result.records;
        const usable = policy.filter(capped);
        const answer: CachedAnswer = usable.length > 0 ? { kind: 'records', records: usable } : { kind: 'absent' };
        cache.set(key, answer, usable.length > 0 ? Math.min(...usable.map((rr) => rr.ttl)) : config.negativeCacheTtl);
        if (usable.length > 0) known.add(key);
        return answer;
      }
      default: {
        const never: never = result;
        return never;
      }
    }
  }

  /** The cached or in-flight outcome of (name, type), starting a lookup if there is neither. */
  function typeOutcome(name: string, type: number, count = false, timeoutMs = config.timeoutMs): Promise<TypeOutcome> {
    const key = AnswerCache.key(name, type);
    const cached = cache.get(key);
    if (cached) {
      if (count) metrics.cacheHits.inc();
      return Promise.resolve(cached);
    }
    if (count) metrics.cacheMisses.inc();
    let pending = inFlight.get(key);
    if (pending) {
      if (count) metrics.coalesced.inc();
      return pending;
    }
    // Never rejects: callers fan one outcome out to several `void p.then(…)` (first-with-records,
    // existence waits), where a rejection would be unhandled and end the process.
    pending = lookup(name, type, key, timeoutMs)
      .catch((err: unknown): TypeOutcome => ({ kind: 'servfail', reason: `lookup failed: ${err instanceof Error ? err.message : String(err)}` }))
      .finally(() => {
        inFlight.delete(key);
        metrics.cacheEntries.set(cache.size);
      });
    inFlight.set(key, pending);
    return pending;
  }

  /**
   * Lookups that tell whether `name` exists, unless the index already knows (never `type` itself),
   * bounded so they end when the question's own lookup would (`deadline`, a performance.now() time).
   */
  function existenceLookups(name: string, except: number, deadline: number): Promise<TypeOutcome>[] {
    if (names.has(name)) return [];
    const types = opts.backend()?.existenceTypes?.(name) ?? existenceTypes(name);
    const budget = Math.max(Math.round(deadline - performance.now()), Math.min(config.timeoutMs, 2 * config.existingNameWaitMs));
    return types.filter((t) => t !== except).map((t) => typeOutcome(name, t, false, budget));
  }

  /** Resolves when `name` is known to exist or every lookup has settled (whichever first). */
  function existenceSettled(name: string, lookups: readonly Promise<TypeOutcome>[]): Promise<void> {
    return new Promise<void>((resolve) => {
      const unwatch = names.whenKnown(name, () => resolve());
      void Promise.all(lookups).then(() => {
        unwatch();
        resolve();
      });
    });
  }

  /** RFC 8482 §4: one RRset the name has, or a synthesized HINFO; never SERVFAIL for the type itself. */
  async function answerAny(name: string, askedName: string): Promise<ZoneAnswer> {
    const types = opts.backend()?.existenceTypes?.(name) ?? existenceTypes(name);
    const found = await firstWithRecords(types.map((t) => typeOutcome(name, t)));
    const records = minimalAnyAnswer(found.flatMap((o) => (o.kind === 'records' ? o.records : [])));
    if (records.length > 0) return underName(records, askedName);
    if (names.has(name)) return underName([synthesizedHinfo(name, config.negativeCacheTtl)], askedName);
    const down = found.find((o) => o.kind === 'servfail');
    return down?.kind === 'servfail' ? { kind: 'servfail', reason: down.reason } : { kind: 'nxdomain' };
  }

  return {
    async resolve(question) {
      const askedLower = question.name.toLowerCase();
      const decision = policy.decide(askedLower, question.type);
      switch (decision.kind) {
        case 'static':
          return underName(decision.records, question.name);
        case 'nxdomain':
        case 'nodata':
          return { kind: decision.kind };
        case 'lookup':
          break;
        default: {
          const never: never = decision;
          return never;
        }
      }
      const name = decision.lookupName;
      const impossible = mdnsNameProblem(name);
      if (impossible !== undefined) {
        metrics.impossibleNames.inc();
        return { kind: 'nxdomain' };
      }
      if (question.type === RRType.ANY) {
        metrics.anyQuestions.inc();
        return answerAny(name, question.name);
      }
      // Whether the name exists is asked only when the answer is slow in coming (most names that
      // exist answer within ~110 ms, Avahi's first query included) or absent: a flood of misses
      // then costs one lookup each for `existingNameWaitMs`, and a host's A is not doubled by an AAAA.
      const deadline = performance.now() + config.timeoutMs;
      const own = typeOutcome(name, question.type, true);
      let existence: Promise<TypeOutcome>[] | undefined;
      const early = setTimeout(() => (existence = existenceLookups(name, question.type, deadline)), config.existingNameWaitMs);
      const outcome = await own;
      clearTimeout(early);
      switch (outcome.kind) {
        case 'servfail':
          return { kind: 'servfail', reason: outcome.reason };
        case 'records':
          return underName(outcome.records, question.name);
        case 'absent':
          if (!names.has(name)) await existenceSettled(name, existence ?? existenceLookups(name, question.type, deadline));
          return { kind: names.has(name) ? 'nodata' : 'nxdomain' };
        default: {
          const never: never = outcome;
          return never;
        }
      }
    },
    flush() {
      cache.clear();
      names.clear();
      metrics.cacheEntries.set(0);
    },
    backendChanged() {
      changedAt = performance.now();
    },
  };
}
