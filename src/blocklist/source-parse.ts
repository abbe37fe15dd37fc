import { mapIPv4Mapped, type EntryGuard } from '../lib/ip-prefix/bogons.js';
import { RangeSetBuilder } from '../lib/ip-prefix/builder.js';
import { parseEntryInto, type EntryRejectReason } from '../lib/ip-prefix/entry.js';
import type { RangeSet } from '../lib/ip-prefix/range-set.js';
import { normaliseDomain, type DomainRejectReason } from '../lib/domain-match/index.js';
import { readSource, type EntrySink, type SourceContains, type SourceFormat } from './formats/index.js';

/** Every reason an entry is not taken, as counted in `unbound_sidecar_list_rejected_entries_total`. */
export type RejectReason = EntryRejectReason | DomainRejectReason | 'not-a-string';

/** One source's download, validated: the unit the guard keeps or replaces. */
export interface ParsedSource {
  kind: 'parsed';
  ipv4: RangeSet;
  ipv6: RangeSet;
  /** Normalised, sorted, unique. */
  domains: readonly string[];
  /** Entries seen in the document. */
  fetched: number;
  /** Entries taken (addresses/prefixes/ranges before merging, plus domains). The guard compares this. */
  parsed: number;
  rejected: Partial<Record<RejectReason, number>>;
  /** The first rejected entry per reason, for the one log line per source. */
  samples: Partial<Record<RejectReason, string>>;
}

/**
 * How much of the list's caps this source may use (the cap minus what the list's other sources
 * hold), so the union stays within `maxEntries`/`maxDomains`. Checked per entry while parsing.
 */
export interface EntryBudget {
  addresses: number;
  domains: number;
  /** For the error: the configured caps and their keys. */
  describe: (what: 'addresses' | 'domains', seen: number) => string;
}

const UNLIMITED: EntryBudget = { addresses: Infinity, domains: Infinity, describe: () => '' };

class SourceAccumulator implements EntrySink {
  private v4 = new RangeSetBuilder('ipv4', 4096);
  private v6 = new RangeSetBuilder('ipv6', 1024);
  private domains = new Set<string>();
  private fetched = 0;
  private rejected: Partial<Record<RejectReason, number>> = {};
  private samples: Partial<Record<RejectReason, string>> = {};
  private readonly scratch = new Uint32Array(8);
  /** Set when the budget ran out: the whole source is refused with this message. */
  overflow: string | undefined;

  constructor(
    private readonly contains: SourceContains,
    private readonly guard: EntryGuard,
    private readonly budget: EntryBudget,
  ) {}

  entry(raw: string): boolean {
    this.fetched++;
    const text = raw.trim();
    const parsed = parseEntryInto(text, this.scratch);
    // ::ffff:a.b.c.d names an IPv4 host: it goes to the IPv4 set and through the IPv4 bogon list.
    const r = parsed === 'ipv6' && mapIPv4Mapped(this.scratch) ? 'ipv4' : parsed;
    if (r === 'ipv4' || r === 'ipv6') {
      const why = this.guard.check(r, this.scratch);
      if (why !== undefined) this.count(why, text);
      else if (this.v4.count + this.v6.count >= this.budget.addresses) return this.full('addresses', this.v4.count + this.v6.count + 1);
      else if (r === 'ipv4') this.v4.addWords(this.scratch, 0, 1);
      else this.v6.addWords(this.scratch, 0, 4);
      return true;
    }
    // Domain sources mix in literal addresses (sites listed by IP); those still route by address.
    if (this.contains === 'domains' && r === 'not-an-address') {
      const d = normaliseDomain(text);
      if (d.kind !== 'name') this.count(d.kind, text);
      else if (this.domains.size >= this.budget.domains && !this.domains.has(d.name)) return this.full('domains', this.domains.size + 1);
      else this.domains.add(d.name);
      return true;
    }
    this.count(r, text);
    return true;
  }

  private full(what: 'addresses' | 'domains', seen: number): false {
    this.overflow = this.budget.describe(what, seen);
    return false;
  }

  reject(reason: 'not-a-string', sample: string): void {
    this.fetched++;
    this.count(reason, sample);
  }

  reset(): void {
    this.v4 = new RangeSetBuilder('ipv4', 4096);
    this.v6 = new RangeSetBuilder('ipv6', 1024);
    this.domains.clear();
    this.fetched = 0;
    this.rejected = {};
    this.samples = {};
    this.overflow = undefined;
  }

  private count(reason: RejectReason, sample: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.samples[reason] ??= sample.slice(0, 100);
  }

  finish(): ParsedSource {
    const rejectedCount = Object.values(this.rejected).reduce((a, b) => a + (b ?? 0), 0);
    return {
      kind: 'parsed',
      ipv4: this.guard.cut(this.v4.build()),
      ipv6: this.guard.cut(this.v6.build()),
      domains: [...this.domains].sort(),
      fetched: this.fetched,
      parsed: this.fetched - rejectedCount,
      rejected: this.rejected,
      samples: this.samples,
    };
  }
}

/**
 * Parse and validate one body. Not `parsed` only for a document that is unusable as a whole:
 * `over-cap` holds more than the budget, `parse-failed` is not a document of its format.
 */
export type SourceParse = ParsedSource | { kind: 'over-cap'; error: string } | { kind: 'parse-failed'; error: string };

export function parseSource(body: Buffer, source: { format: SourceFormat; contains: SourceContains }, guard: EntryGuard, budget: EntryBudget = UNLIMITED): SourceParse {
  const acc = new SourceAccumulator(source.contains, guard, budget);
  const r = readSource(source.format, source.contains, body, acc);
  if (acc.overflow !== undefined) return { kind: 'over-cap', error: acc.overflow };
  if (r.kind === 'failed') return { kind: 'parse-failed', error: r.error };
  return acc.finish();
}
