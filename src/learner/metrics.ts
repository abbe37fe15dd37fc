import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';
import type { HotSeries } from '../lib/metrics/hot-metrics.js';

export type MatchOutcome = 'learned' | 'unchanged' | 'static' | 'bogon' | 'excluded' | 'failed';

/**
 * Learner metrics, registered on the injected registry (each test builds a fresh one). The
 * matched-answers counter is counted once per listed answer the DNS front relays, so it is a hot
 * series (lib/metrics/hot-metrics.ts).
 */
export function createLearnerMetrics(registry: Registry) {
  const m = capabilityMetrics(registry, 'learner');
  const matched = m.hotCounter({
    name: 'matched_answers_total',
    help: 'A/AAAA answers whose owner or CNAME chain matched a list, by list and outcome (learned, unchanged, static, bogon, excluded, failed).',
    labelNames: ['list', 'outcome'] as const,
  });
  const byList = new Map<string, Map<MatchOutcome, HotSeries>>();
  return {
    /** One A/AAAA answer matched `list` and came to `outcome`. */
    matchedAnswer(list: string, outcome: MatchOutcome): void {
      let outcomes = byList.get(list);
      if (outcomes === undefined) {
        outcomes = new Map();
        byList.set(list, outcomes);
      }
      let c = outcomes.get(outcome);
      if (c === undefined) {
        c = matched.series({ list, outcome });
        outcomes.set(outcome, c);
      }
      c.inc();
    },
    dnstapFrames: m.counter({ name: 'dnstap_frames_total', help: 'dnstap data frames received.' }),
    dnstapBytes: m.counter({ name: 'dnstap_bytes_total', help: 'dnstap payload bytes received.' }),
    dnstapErrors: m.counter({ name: 'dnstap_errors_total', help: 'dnstap protocol, decode and DNS parse errors by reason (never fatal).', labelNames: ['reason'] as const }),
    dnstapConnections: m.gauge({ name: 'dnstap_connections', help: 'dnstap writers (Unbound) connected now.' }),
    learnedElements: m.gauge({ name: 'learned_elements', help: 'Learned addresses not yet expired, by list and family.', labelNames: ['list', 'family'] as const }),
    pruned: m.counter({
      name: 'pruned_total',
      help: 'Learned addresses removed from set and store because no list entry covers their name any more (a runtime removal, or the registry dropped it).',
      labelNames: ['list'] as const,
    }),
    expirations: m.counter({ name: 'expirations_total', help: 'Learned addresses dropped from the store because their timeout passed.' }),
    queueDepth: m.gauge({ name: 'resolve_queue_depth', help: 'Listed names due for proactive resolution now.' }),
    resolutions: m.counter({ name: 'resolutions_total', help: 'Proactive queries by outcome (answer, nodata, nxdomain, servfail, refused, timeout, error).', labelNames: ['outcome'] as const }),
    latency: m.histogram({
      name: 'answer_to_set_seconds',
      help: 'From a dnstap answer received to its address committed in the kernel set.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    }),
  };
}

export type LearnerMetrics = ReturnType<typeof createLearnerMetrics>;
