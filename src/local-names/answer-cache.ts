import { LRUCache } from 'lru-cache';
import type { ResourceRecord } from '../lib/dns-wire/types.js';

/**
 * What the cache holds for one (name, type): records, or `absent` (none of that type). Whether an
 * absent type is NXDOMAIN or NODATA depends on the name's other types and is decided per question
 * (name-index.ts), so a type cached absent before the name's other records were seen does not
 * keep answering NXDOMAIN.
 */
export type CachedAnswer = { kind: 'records'; records: readonly ResourceRecord[] } | { kind: 'absent' };

interface Entry {
  answer: CachedAnswer;
  storedAt: number;
}

/**
 * Positive and negative answers with a size bound (LRU) and per-entry TTL. Served records carry
 * the remaining TTL, so a downstream cache (Unbound) never keeps a record longer than we would.
 */
export class AnswerCache {
  private readonly lru: LRUCache<string, Entry>;

  constructor(
    maxEntries: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lru = new LRUCache<string, Entry>({ max: maxEntries, ttlAutopurge: false, allowStale: false, perf: { now } });
  }

  static key(name: string, type: number): string {
    return `${type}/${name}`;
  }

  get(key: string): CachedAnswer | undefined {
    const entry = this.lru.get(key);
    if (!entry) return undefined;
    if (entry.answer.kind !== 'records') return entry.answer;
    const elapsed = Math.floor((this.now() - entry.storedAt) / 1000);
    if (elapsed === 0) return entry.answer;
    return { kind: 'records', records: entry.answer.records.map((rr) => ({ ...rr, ttl: Math.max(rr.ttl - elapsed, 1) })) };
  }

  /** Cache `answer` for `ttlSeconds` (0 = do not cache). */
  set(key: string, answer: CachedAnswer, ttlSeconds: number): void {
    if (ttlSeconds <= 0) return;
    this.lru.set(key, { answer, storedAt: this.now() }, { ttl: ttlSeconds * 1000 });
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}

/**
 * Keys (`AnswerCache.key`) that had a positive answer within `seconds`: the lookup limiter's
 * priority lane. Bounded like the cache (`maxEntries` keys of ≤ 262 characters, ~3 MB at 10 000);
 * separate from it because an answer expires after its TTL (10 s on the native backend) while the
 * name stays worth preferring much longer.
 */
export class KnownNames {
  private readonly lru: LRUCache<string, true>;

  constructor(maxEntries: number, seconds: number, now: () => number = () => performance.now()) {
    this.lru = new LRUCache<string, true>({ max: maxEntries, ttl: seconds * 1000, ttlAutopurge: false, perf: { now } });
  }

  add(key: string): void {
    this.lru.set(key, true);
  }

  has(key: string): boolean {
    return this.lru.has(key);
  }
}
