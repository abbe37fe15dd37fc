import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Learner metrics, registered on the injected registry (each test builds a fresh one). */
export function createLearnerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    dnstapFrames: new Counter({ name: 'unbound_sidecar_learner_dnstap_frames_total', help: 'dnstap data frames received.', registers }),
    dnstapBytes: new Counter({ name: 'unbound_sidecar_learner_dnstap_bytes_total', help: 'dnstap payload bytes received.', registers }),
    dnstapErrors: new Counter({ name: 'unbound_sidecar_learner_dnstap_errors_total', help: 'dnstap protocol, decode and DNS parse errors by reason (never fatal).', labelNames: ['reason'] as const, registers }),
    dnstapConnections: new Gauge({ name: 'unbound_sidecar_learner_dnstap_connections', help: 'dnstap writers (Unbound) connected now.', registers }),
    matchedAnswers: new Counter({ name: 'unbound_sidecar_learner_matched_answers_total', help: 'A/AAAA answers whose owner or CNAME chain matched a list, by list and outcome (learned, unchanged, static, bogon, excluded, too-broad, failed).', labelNames: ['list', 'outcome'] as const, registers }),
    learnedElements: new Gauge({ name: 'unbound_sidecar_learner_learned_elements', help: 'Learned addresses not yet expired, by list and family.', labelNames: ['list', 'family'] as const, registers }),
    pruned: new Counter({ name: 'unbound_sidecar_learner_pruned_total', help: 'Learned addresses removed from set and store because no list entry covers their name any more (a runtime removal, or the registry dropped it).', labelNames: ['list'] as const, registers }),
    expirations: new Counter({ name: 'unbound_sidecar_learner_expirations_total', help: 'Learned addresses dropped from the store because their timeout passed.', registers }),
    queueDepth: new Gauge({ name: 'unbound_sidecar_learner_resolve_queue_depth', help: 'Listed names due for proactive resolution now.', registers }),
    resolutions: new Counter({ name: 'unbound_sidecar_learner_resolutions_total', help: 'Proactive queries by outcome (answer, nodata, nxdomain, servfail, refused, timeout, error).', labelNames: ['outcome'] as const, registers }),
    latency: new Histogram({
      name: 'unbound_sidecar_learner_answer_to_set_seconds',
      help: 'From a dnstap answer received to its address committed in the kernel set.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}

export type LearnerMetrics = ReturnType<typeof createLearnerMetrics>;
