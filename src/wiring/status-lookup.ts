import type { LookupMatch, LookupResult } from '../http/index.js';
import type { LearnerLookupResult } from '../learner/index.js';

/**
 * The status page's lookup answer from the learner's: one line of "why" per match, so the page
 * does not need to know how lists, registry entries and learned elements relate.
 */
export function toPageLookup(query: string, r: LearnerLookupResult): LookupResult {
  switch (r.kind) {
    case 'invalid':
      return { query, kind: 'invalid', matches: [] };
    case 'name': {
      const matches: LookupMatch[] = r.matches.map((m) => ({
        list: m.list,
        reason: `matches ${m.source === 'registry' ? 'registry entry' : 'runtime addition'} ${m.entry}${m.learns ? '' : ' (this list learns no addresses)'}`,
      }));
      for (const l of r.learned) matches.push({ list: l.list, reason: `learned address ${l.address}`, expiresAt: Date.parse(l.expires) });
      return { query, kind: 'domain', matches };
    }
    case 'address': {
      const matches: LookupMatch[] = r.static.map((list) => ({ list, reason: "inside the registry list's addresses" }));
      for (const l of r.learned) matches.push({ list: l.list, reason: `learned from an answer for ${l.name}`, set: l.set, expiresAt: Date.parse(l.expires) });
      return { query, kind: 'ip', matches };
    }
    default: {
      const never: never = r;
      return never;
    }
  }
}
