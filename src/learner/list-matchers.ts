import { DomainMatcher } from '../lib/domain-match/index.js';
import { coversRange, emptyRangeSet, EntryGuard, type IpFamily, type RangeSet } from '../lib/ip-prefix/index.js';
import type { LearnedTarget } from '../set-sync/index.js';
import type { LearnerListConfig } from './config.js';

/**
 * Per list: the registry's domains (from the newest ListModel) plus runtime additions, the static
 * address model (so learned sets never duplicate what the static set already covers) and the
 * bogon/exclude guard. Additions get their own small matcher so an `add` never rebuilds the
 * registry's 600k-entry one.
 */

export interface ListState {
  readonly name: string;
  /** Undefined when the list has no `learn` block: matched for `lookup`, never learned. */
  readonly target: LearnedTarget | undefined;
  readonly minTtl: number;
  readonly maxTtl: number;
  readonly resolve: boolean;
  readonly guard: EntryGuard;
  registry: DomainMatcher;
  domains: readonly string[];
  additions: Set<string>;
  added: DomainMatcher;
  ipv4: RangeSet;
  ipv6: RangeSet;
}

export interface NameMatch {
  readonly list: ListState;
  /** The listed entry that covers the name. */
  readonly entry: string;
  readonly source: 'registry' | 'added';
}

export class ListMatchers {
  readonly lists: ListState[];
  /** Bumped by every change of what the lists match or cover: a decision made before is stale. */
  version = 0;

  constructor(configs: readonly LearnerListConfig[], defaults: { minTtl: number; maxTtl: number }) {
    this.lists = configs.map((c) => ({
      name: c.name,
      target: c.learn ? { family: c.nft.family, table: c.nft.table, set4: c.learn.set4, set6: c.learn.set6, netns: c.nft.netns, createSets: c.nft.createSets } : undefined,
      minTtl: c.learn?.minTtl ?? defaults.minTtl,
      maxTtl: Math.max(c.learn?.maxTtl ?? defaults.maxTtl, c.learn?.minTtl ?? defaults.minTtl),
      resolve: c.learn?.resolve ?? false,
      guard: new EntryGuard({ minPrefix: c.minPrefix, exclude: c.exclude }),
      registry: DomainMatcher.empty,
      domains: [],
      additions: new Set(),
      added: DomainMatcher.empty,
      ipv4: emptyRangeSet('ipv4'),
      ipv6: emptyRangeSet('ipv6'),
    }));
  }

  get(list: string): ListState | undefined {
    return this.lists.find((l) => l.name === list);
  }

  setModel(list: string, model: { ipv4: RangeSet; ipv6: RangeSet; domains: readonly string[] }): void {
    const s = this.get(list);
    if (!s) return;
    this.version++;
    s.ipv4 = model.ipv4;
    s.ipv6 = model.ipv6;
    if (s.domains !== model.domains) s.registry = DomainMatcher.build(model.domains).matcher;
    s.domains = model.domains;
  }

  setAdditions(list: string, names: Iterable<string>): void {
    const s = this.get(list);
    if (!s) return;
    this.version++;
    s.additions = new Set(names);
    s.added = DomainMatcher.build([...s.additions]).matcher;
  }

  /** First list entry covering `name` in `s` (registry first: it is the authority). */
  matchIn(s: ListState, name: string): NameMatch | undefined {
    const r = s.registry.match(name);
    if (r !== undefined) return { list: s, entry: r, source: 'registry' };
    const a = s.added.match(name);
    return a === undefined ? undefined : { list: s, entry: a, source: 'added' };
  }

  /** Hot path: does `name` match any list that learns? */
  anyLearningMatch(name: string): boolean {
    for (const s of this.lists) if (s.target !== undefined && matches(s, name)) return true;
    return false;
  }

  /** Hot path: does any of `names` (a CNAME chain) match `s`? */
  anyMatches(s: ListState, names: readonly string[]): string | undefined {
    for (const n of names) if (matches(s, n)) return n;
    return undefined;
  }

  /** Every list matching `name`. */
  match(name: string): NameMatch[] {
    return this.lists.flatMap((s) => this.matchIn(s, name) ?? []);
  }
}

/** `name` is under the list's registry or its runtime additions. */
function matches(s: ListState, name: string): boolean {
  return s.registry.matches(name) || s.added.matches(name);
}

/** Why an address is not learned for a list, or undefined when it should be (one address is never too broad: minPrefix is at most the address length). */
export function addressVerdict(s: ListState, family: IpFamily, words: Uint32Array): 'static' | 'bogon' | 'excluded' | undefined {
  if (coversRange(family === 'ipv4' ? s.ipv4 : s.ipv6, words, 0, 0)) return 'static';
  return s.guard.checkAddress(family, words);
}

export function clampTtl(ttl: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(ttl)));
}
