import type { Logger } from 'pino';
import { RRType, type Question, type ResourceRecord, type ZoneAnswer } from '../lib/dns-wire/types.js';
import { AnswerCache, KnownNames, type CachedAnswer } from './answer-cache.js';
import type { LocalNamesConfig } from './config.js';
import { ConcurrencyLimiter } from '../lib/concurrency/limiter.js';
import type { LocalNamesMetrics } from './metrics.js';
import { mdnsNameProblem } from './mdns-name.js';
import { createAnswerPolicy } from './policy.js';
import type { BackendResult, LocalResolver } from './resolver.js';

export interface LocalNames {
  /** Answer one question in a local zone. Never throws. */
  resolve(question: Question, signal?: AbortSignal): Promise<ZoneAnswer>;
  /** Drop cached answers (e.g. after the backend changed). */
  flush(): void;
}

type LookupOutcome = { answer: CachedAnswer } | { servfail: string };

/**
 * Cache → policy → coalescing → limiter → backend. Cached answers never wait behind lookups, so a
 * flood of misses cannot delay them; identical questions in flight share one backend lookup.
 */
export function createLocalNamesCore(opts: {
  config: LocalNamesConfig;
  backend: () => LocalResolver | undefined;
  metrics: LocalNamesMetrics;
  logger: Logger;
}): LocalNames {
  const { config, metrics } = opts;
  const policy = createAnswerPolicy(config.policy, config.ttl);
  const cache = new AnswerCache(config.cacheSize);
  const limiter = new ConcurrencyLimiter(config.maxConcurrentLookups, config.maxQueuedLookups, config.reservedLookups);
  const known = new KnownNames(config.cacheSize, config.knownNameSeconds);
  const inFlight = new Map<string, Promise<LookupOutcome>>();

  const toZoneAnswer = (answer: CachedAnswer, askedName: string): ZoneAnswer =>
    answer.kind === 'records'
      ? { kind: 'answer', records: answer.records.map((rr) => (rr.name === askedName ? rr : { ...rr, name: askedName })) }
      : answer;

  async function lookup(lookupName: string, type: number, key: string): Promise<LookupOutcome> {
    const backend = opts.backend();
    const backendKind = backend?.kind ?? 'none';
    if (!backend || !backend.isUp()) {
      metrics.lookups.inc({ backend: backendKind, outcome: 'unavailable' });
      return { servfail: 'mDNS backend unavailable' };
    }
    // Names answered before go first and have slots of their own: with 4096 misses queued, an
    // expired printer.local used to wait behind every one of them and time out at the client.
    const priority = known.has(key);
    if (priority) metrics.priorityLookups.inc();
    const release = await limiter.acquire(undefined, priority);
    metrics.queued.set(limiter.queuedCount);
    if (!release) {
      metrics.lookups.inc({ backend: backendKind, outcome: 'overloaded' });
      return { servfail: 'too many lookups queued' };
    }
    metrics.inFlight.set(limiter.activeCount);
    let result: BackendResult;
    try {
      result = await backend.lookup({
        name: lookupName,
        type,
        mode: type === RRType.A || type === RRType.AAAA ? 'first' : 'collect',
        timeoutMs: config.timeoutMs,
        windowMs: config.browseWindowMs,
        usable: (t, data) => policy.usable(t, data),
      });
    } catch (err) {
      // The LocalResolver contract says lookup never throws; if one does, that is a bug, not a negative.
      opts.logger.error({ err, name: lookupName, type }, 'local-names: backend lookup threw');
      result = { kind: 'unavailable', reason: 'backend error' };
    } finally {
      release();
      metrics.inFlight.set(limiter.activeCount);
      metrics.queued.set(limiter.queuedCount);
    }
    metrics.lookups.inc({ backend: backendKind, outcome: result.kind });
    switch (result.kind) {
      case 'unavailable':
        return { servfail: result.reason };
      case 'none': {
        const answer: CachedAnswer = { kind: 'nxdomain' };
        cache.set(key, answer, config.negativeCacheTtl);
        return { answer };
      }
      case 'records': {
        const usable = policy.filter(result.records);
        // Records existed but none is usable (only fe80:: addresses): the name exists, so NODATA.
        const answer: CachedAnswer = usable.length > 0 ? { kind: 'records', records: usable } : { kind: 'nodata' };
        const ttl = usable.length > 0 ? Math.min(...usable.map((rr: ResourceRecord) => rr.ttl)) : config.negativeCacheTtl;
        cache.set(key, answer, ttl);
        if (usable.length > 0) known.add(key);
        return { answer };
      }
      default: {
        const never: never = result;
        return never;
      }
    }
  }

  return {
    async resolve(question) {
      const askedLower = question.name.toLowerCase();
      const decision = policy.decide(askedLower, question.type);
      switch (decision.kind) {
        case 'static':
          return { kind: 'answer', records: decision.records.map((rr) => ({ ...rr, name: question.name })) };
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
      const impossible = mdnsNameProblem(decision.lookupName);
      if (impossible !== undefined) {
        metrics.impossibleNames.inc();
        return { kind: 'nxdomain' };
      }
      const key = AnswerCache.key(decision.lookupName, question.type);
      const cached = cache.get(key);
      if (cached) {
        metrics.cacheHits.inc();
        return toZoneAnswer(cached, question.name);
      }
      metrics.cacheMisses.inc();
      let pending = inFlight.get(key);
      if (pending) metrics.coalesced.inc();
      else {
        pending = lookup(decision.lookupName, question.type, key).finally(() => {
          inFlight.delete(key);
          metrics.cacheEntries.set(cache.size);
        });
        inFlight.set(key, pending);
      }
      const outcome = await pending;
      if ('servfail' in outcome) return { kind: 'servfail', reason: outcome.servfail };
      return toZoneAnswer(outcome.answer, question.name);
    },
    flush() {
      cache.clear();
      metrics.cacheEntries.set(0);
    },
  };
}
