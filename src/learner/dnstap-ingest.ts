import type { Logger } from 'pino';
import type { AddressAnswer, DnstapMessage } from '../lib/dnstap/index.js';
import type { LearnAnswer } from './answer-learning.js';
import { MIN_FRESH_LEFT_MS, type LearnedSets } from '../set-sync/index.js';
import type { LearnedStore } from './learned-store.js';
import { addressVerdict, clampTtl, type ListState } from './list-matchers.js';
import type { LearnerMetrics } from './metrics.js';

/**
 * dnstap CLIENT_RESPONSE → learned addresses. Only client responses: they are what a LAN client
 * is about to connect to, and they carry the whole CNAME chain (resolver-side messages show one hop
 * each). The matching is answer-learning.ts (shared with the DNS front); `learn` is one address
 * for one list: not already covered by the list's static set, past its bogon/exclude guard,
 * submitted with the TTL clamped.
 */

/** What became of one address submitted for one list. */
export type LearnOutcome = 'learned' | 'unchanged' | 'skipped' | 'failed';

/**
 * Submits one address for one list; resolves when it is in the kernel (or known not to be).
 * `name` is what `lookup` shows (the chain's head); `matched` the chain name the list matched.
 * A plain value (no Promise) when that is decided at once: skipped, or already in the set.
 */
export type Learn = (list: ListState, a: Pick<AddressAnswer, 'family' | 'address' | 'words' | 'ttl'>, name: string, seenAt: number, matched?: string) => LearnOutcome | Promise<LearnOutcome>;

export function createLearn(deps: { learnedSets: LearnedSets; store: LearnedStore; metrics: LearnerMetrics; logger: Logger }): Learn {
  const { learnedSets, store, metrics } = deps;
  const submitted = async (
    list: ListState,
    target: NonNullable<ListState['target']>,
    a: Pick<AddressAnswer, 'family' | 'address'>,
    ttl: number,
    name: string,
    seenAt: number,
    matched: string,
  ): Promise<LearnOutcome> => {
    const o = await learnedSets.submit(target, a.family, a.address, ttl);
    switch (o.kind) {
      case 'applied':
        metrics.latency.observe((performance.now() - seenAt) / 1000);
        store.record({ list: list.name, family: a.family, address: a.address, name, matched });
        metrics.matchedAnswer(list.name, 'learned');
        return 'learned';
      case 'unchanged':
        metrics.matchedAnswer(list.name, 'unchanged');
        return 'unchanged';
      case 'no-set':
        return 'skipped';
      case 'failed':
        metrics.matchedAnswer(list.name, 'failed');
        return 'failed';
      default: {
        const never: never = o;
        return never;
      }
    }
  };
  return (list, a, name, seenAt, matched = name) => {
    const target = list.target;
    if (!target) return 'skipped';
    const verdict = addressVerdict(list, a.family, a.words);
    if (verdict !== undefined) {
      metrics.matchedAnswer(list.name, verdict);
      return 'skipped';
    }
    const ttl = clampTtl(a.ttl, list.minTtl, list.maxTtl);
    if (learnedSets.fresh(target, a.family, a.address, ttl)) {
      metrics.matchedAnswer(list.name, 'unchanged');
      return 'unchanged';
    }
    const p = submitted(list, target, a, ttl, name, seenAt, matched);
    // In the set for a while yet (set-sync's MIN_FRESH_LEFT_MS): this write only extends its
    // timeout, and lands long before the element could expire — nothing for an answer to wait on
    // (the write goes on; its outcome is counted and stored when it lands).
    if (learnedSets.timeLeftMs(target, a.family, a.address) >= MIN_FRESH_LEFT_MS) {
      p.catch((err: unknown) => deps.logger.warn({ err }, 'learner: background refresh failed'));
      return 'unchanged';
    }
    return p;
  };
}

export function createDnstapIngest(deps: { learnAnswer: LearnAnswer }): (msg: DnstapMessage) => void {
  const { learnAnswer } = deps;
  return (msg) => {
    if (msg.type !== 'CLIENT_RESPONSE' || msg.responseMessage === undefined) return;
    void learnAnswer(msg.responseMessage);
  };
}
