import { isIP } from 'node:net';
import { normaliseDomain } from '../lib/domain-match/index.js';
import { containsAddress } from '../lib/ip-prefix/index.js';
import type { LearnedStore } from './learned-store.js';
import type { ListMatchers } from './list-matchers.js';

/**
 * `unbound-sidecar lookup NAME|IP`: the question a user asks when a site does
 * not load. For a name: which lists match and through which entry (registry or runtime addition),
 * and the addresses learned for it. For an address: which lists' static sets cover it, and which
 * learned sets hold it, for which name, until when.
 */
export type LookupResult =
  | { kind: 'name'; name: string; matches: Array<{ list: string; entry: string; source: 'registry' | 'added'; learns: boolean }>; learned: Array<{ list: string; address: string; expires: string }> }
  | { kind: 'address'; address: string; static: string[]; learned: Array<{ list: string; set: string; name: string; expires: string }> }
  | { kind: 'invalid'; error: string };

export function lookup(query: string, deps: { matchers: ListMatchers; store: LearnedStore }): LookupResult {
  const { matchers, store } = deps;
  const q = query.trim();
  const v = isIP(q);
  if (v !== 0) {
    const family = v === 4 ? 'ipv4' : 'ipv6';
    // Canonical text (RFC 5952) is how the store keys IPv6; node's URL parser gives us that for free.
    const address = v === 6 ? new URL(`http://[${q}]/`).hostname.slice(1, -1) : q;
    return {
      kind: 'address',
      address,
      static: matchers.lists.filter((l) => containsAddress(family === 'ipv4' ? l.ipv4 : l.ipv6, address)).map((l) => l.name),
      learned: store.byAddress(address).map(({ entry: e, expires }) => {
        const t = matchers.get(e.list)?.target;
        const set = t ? `${t.family} ${t.table} ${(family === 'ipv4' ? t.set4 : t.set6) ?? '?'}${t.netns ? ` (netns ${t.netns})` : ''}` : '?';
        return { list: e.list, set, name: e.name, expires: new Date(expires).toISOString() };
      }),
    };
  }
  const d = normaliseDomain(q);
  if (d.kind !== 'name') return { kind: 'invalid', error: `"${query}" is neither an IP address nor a domain name` };
  const { name } = d;
  return {
    kind: 'name',
    name,
    matches: matchers.match(name).map((m) => ({ list: m.list.name, entry: m.entry, source: m.source, learns: m.list.target !== undefined })),
    learned: store.byName(name).map(({ entry: e, expires }) => ({ list: e.list, address: e.address, expires: new Date(expires).toISOString() })),
  };
}
