import { LRUCache } from 'lru-cache';
import { RRType, type ResourceRecord } from '../lib/dns-wire/types.js';
import { readName } from '../lib/dns-wire/wire-name.js';

/**
 * Names known to exist, for the NXDOMAIN / NODATA decision (RFC 2308 §2.1–2.2, RFC 8020): a name
 * exists when it owns records of any type *or has names below it* (an empty non-terminal,
 * RFC 4592 §2.2.2). NXDOMAIN says the name and everything below it do not exist, for every type,
 * and RFC 8020 lets a resolver act on that for the whole subtree, so it must only be given when
 * nothing is known under or at the name.
 *
 * Learned from every positive answer: the owner, each of its ancestors below the top-level label
 * (`one._ipp._tcp.local.` makes `_ipp._tcp.local.` and `_tcp.local.` exist), and the names a
 * record points at (a PTR's target, an SRV's host: RFC 6763 §4–5, the DNS-SD walk). Each entry
 * lives as long as the record that proved it; bounded (LRU) like the answer cache.
 */
export class NameIndex {
  private readonly lru: LRUCache<string, true>;
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(maxEntries: number, now: () => number = () => performance.now()) {
    this.lru = new LRUCache<string, true>({ max: maxEntries, ttlAutopurge: false, perf: { now } });
  }

  /** `name`: lowercase presentation form, absolute. */
  has(name: string): boolean {
    return this.lru.has(name);
  }

  /** Record that `records` (owned by `owner`, lowercase) exist. */
  learn(owner: string, records: readonly ResourceRecord[]): void {
    if (records.length === 0) return;
    const ttl = Math.max(1, Math.min(...records.map((rr) => rr.ttl)));
    this.add(owner, ttl);
    for (let p = parentOf(owner); p !== undefined && parentOf(p) !== undefined; p = parentOf(p)) this.add(p, ttl);
    for (const rr of records) {
      const target = pointedAt(rr);
      if (target !== undefined) this.add(target, rr.ttl);
    }
  }

  /** Record that `name` exists without a record to show (an NSEC, RFC 6762 §6.1). */
  learnExists(name: string, ttlSeconds: number): void {
    this.add(name, ttlSeconds);
  }

  /** Calls `listener` once when `name` becomes known (at once if it is). Returns an unsubscribe function. */
  whenKnown(name: string, listener: () => void): () => void {
    if (this.has(name)) {
      listener();
      return () => {};
    }
    let set = this.watchers.get(name);
    if (!set) this.watchers.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      // Only our own set: after the name fired (and was forgotten) a newer watcher may own the slot.
      if (set.size === 0 && this.watchers.get(name) === set) this.watchers.delete(name);
    };
  }

  clear(): void {
    this.lru.clear();
  }

  private add(name: string, ttlSeconds: number): void {
    const left = this.lru.getRemainingTTL(name);
    // Keep the longer proof: a 120 s A must not be shortened by a 10 s PTR target.
    if (left < ttlSeconds * 1000) this.lru.set(name, true, { ttl: Math.max(1, ttlSeconds) * 1000 });
    const set = this.watchers.get(name);
    if (set) {
      this.watchers.delete(name);
      for (const l of set) l();
    }
  }
}

/**
 * The parent of an absolute presentation-form name (`a\.b.local.` → `local.`: an escaped dot is
 * part of its label), or undefined for a single label or the root.
 */
export function parentOf(name: string): string | undefined {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) i += /^\d{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1;
    else if (c === 0x2e) return i + 1 < name.length ? name.slice(i + 1) : undefined;
  }
  return undefined;
}

/** The labels of `name` (escapes kept), without the empty root label. */
export function labelsOf(name: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) i += /^\d{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1;
    else if (c === 0x2e) {
      out.push(name.slice(start, i));
      start = i + 1;
    }
  }
  if (start < name.length) out.push(name.slice(start));
  return out;
}

/** The name in a PTR's or SRV's rdata (uncompressed, RFC 6762 §18.14 asks responders to send them so), lowercase. */
function pointedAt(rr: ResourceRecord): string | undefined {
  try {
    if (rr.type === RRType.PTR) return readName(rr.data, 0).toLowerCase();
    if (rr.type === RRType.SRV && rr.data.length > 6) return readName(rr.data, 6).toLowerCase();
  } catch {
    // Not a readable name: it proves nothing.
  }
  return undefined;
}
