import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';

/** set-sync metrics, registered on the injected registry (each test builds a fresh one). `set` = "family table name". */
export function createSetSyncMetrics(registry: Registry) {
  const m = capabilityMetrics(registry, 'set_sync');
  return {
    elements: m.gauge({ name: 'elements', help: 'Elements (intervals) in each nft set as last applied.', labelNames: ['set'] as const }),
    applyDuration: m.histogram({
      name: 'apply_duration_seconds',
      help: 'Time to make one nft set equal to its model (all transactions of one apply).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    refills: m.counter({
      name: 'refills_total',
      help: 'Sets refilled from the model after an outside change: flushed, recreated (table or set re-created, e.g. an nftables reload), foreign (elements changed by someone else), monitor (monitor restarted, events may be lost), lost (nftables events dropped: the netlink receive buffer overflowed).',
      labelNames: ['reason'] as const,
    }),
    applyFailures: m.counter({
      name: 'apply_failures_total',
      help: 'Applies that failed, by set and reason: missing (table or set), nft (transaction refused), readback (listing failed).',
      labelNames: ['set', 'reason'] as const,
    }),
    nftTimeouts: m.counter({
      name: 'nft_timeouts_total',
      help: 'nftables netlink requests of set-sync that passed their deadline (the socket is abandoned, the sets read back and repaired).',
    }),
    lastApply: m.gauge({ name: 'last_apply_timestamp_seconds', help: 'Unix time of the last successful apply, by set.', labelNames: ['set'] as const }),
  };
}

export type SetSyncMetrics = ReturnType<typeof createSetSyncMetrics>;

/** Learned-set metrics (learned-sets.ts), on the same registry. */
export function createLearnedSetMetrics(registry: Registry) {
  const m = capabilityMetrics(registry, 'set_sync');
  return {
    ops: m.counter({
      name: 'learned_ops_total',
      help: 'Learned-set element operations written: add (new), refresh (delete + add with a new timeout), remove, replay (written back after a flush or reload).',
      labelNames: ['op'] as const,
    }),
    failures: m.counter({
      name: 'learned_failures_total',
      help: 'Learned-set transactions refused: missing (set or table absent; elements held and retried), nft (dropped).',
      labelNames: ['reason'] as const,
    }),
    replayed: m.counter({ name: 'learned_replayed_total', help: 'Learned addresses written back after the kernel lost them (set flushed, table or set re-created), with the timeout they had left.' }),
    batchSize: m.histogram({ name: 'learned_batch_elements', help: 'Element operations per learned-set transaction.', buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384] }),
    applyDuration: m.histogram({ name: 'learned_apply_duration_seconds', help: 'Duration of one learned-set transaction (nft run).', buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1] }),
  };
}
