import type { Logger } from 'pino';
import { extractAnswers, namesLeadingTo, type AddressAnswer, type DnstapMessage } from '../lib/dnstap/index.js';
import type { LearnedSets } from '../set-sync/learned-sets.js';
import type { LearnedStore } from './learned-store.js';
import { addressVerdict, clampTtl, type ListMatchers, type ListState } from './list-matchers.js';
import type { LearnerMetrics } from './metrics.js';

/**
 * dnstap CLIENT_RESPONSE → learned addresses (issue #4 item 3). Only client responses: they are
 * what a LAN client is about to connect to, and they carry the whole CNAME chain (resolver-side
 * messages show one hop each). For every A/AAAA, the owner and every name whose CNAME chain leads
 * to it is matched against each learning list; a match whose address is not already covered by
 * the list's static set and passes its bogon/exclude guard is submitted with the TTL clamped.
 */

export interface Learn {
  /**
   * Submits one address for one list; resolves when it is in the kernel (or known not to be).
   * `name` is what `lookup` shows (the chain's head); `matched` the chain name the list matched.
   */
  (list: ListState, a: Pick<AddressAnswer, 'family' | 'address' | 'words' | 'ttl'>, name: string, seenAt: number, matched?: string): Promise<void>;
}

export function createLearn(deps: { learnedSets: LearnedSets; store: LearnedStore; metrics: LearnerMetrics; logger: Logger }): Learn {
  const { learnedSets, store, metrics } = deps;
  return async (list, a, name, seenAt, matched = name) => {
    const target = list.target;
    if (!target) return;
    const verdict = addressVerdict(list, a.family, a.words);
    if (verdict !== undefined) {
      metrics.matchedAnswers.inc({ list: list.name, outcome: verdict });
      return;
    }
    const ttl = clampTtl(a.ttl, list.minTtl, list.maxTtl);
    const o = await learnedSets.submit(target, a.family, a.address, ttl);
    switch (o.kind) {
      case 'applied':
        metrics.latency.observe((performance.now() - seenAt) / 1000);
        store.record({ list: list.name, family: a.family, address: a.address, expires: Date.now() + ttl * 1000, name, matched });
        metrics.matchedAnswers.inc({ list: list.name, outcome: 'learned' });
        return;
      case 'unchanged':
        metrics.matchedAnswers.inc({ list: list.name, outcome: 'unchanged' });
        return;
      case 'no-set':
        return;
      case 'failed':
        metrics.matchedAnswers.inc({ list: list.name, outcome: 'failed' });
        return;
      default: {
        const never: never = o;
        return never;
      }
    }
  };
}

export function createDnstapIngest(deps: { matchers: ListMatchers; learn: Learn; metrics: LearnerMetrics }): (msg: DnstapMessage) => void {
  const { matchers, learn, metrics } = deps;
  return (msg) => {
    if (msg.type !== 'CLIENT_RESPONSE' || msg.responseMessage === undefined) return;
    const seenAt = performance.now();
    const r = extractAnswers(msg.responseMessage);
    if (r.kind === 'error') {
      metrics.dnstapErrors.inc({ reason: `dns-${r.reason}` });
      return;
    }
    if (r.addresses.length === 0) return;
    // One chain walk per distinct owner (a response usually has one owner for all its addresses).
    let lastOwner = '';
    let names: string[] = [];
    for (const a of r.addresses) {
      if (a.owner !== lastOwner) {
        lastOwner = a.owner;
        names = r.cnames.length === 0 ? [a.owner] : namesLeadingTo(a.owner, r.cnames);
      }
      for (const list of matchers.lists) {
        if (list.target === undefined) continue;
        const hit = matchers.anyMatches(list, names);
        // The chain's head (the name the client asked) is what `lookup` shows as "learned for".
        if (hit !== undefined) void learn(list, a, stripDot(names[names.length - 1] ?? hit), seenAt, stripDot(hit));
      }
    }
  };
}

function stripDot(n: string): string {
  return n.endsWith('.') ? n.slice(0, -1) : n;
}
