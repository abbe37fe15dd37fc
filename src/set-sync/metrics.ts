import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** set-sync metrics, registered on the injected registry (each test builds a fresh one). `set` = "family table name". */
export function createSetSyncMetrics(registry: Registry) {
  const registers = [registry];
  return {
    elements: new Gauge({ name: 'unbound_sidecar_set_sync_elements', help: 'Elements (intervals) in each nft set as last applied.', labelNames: ['set'] as const, registers }),
    applyDuration: new Histogram({
      name: 'unbound_sidecar_set_sync_apply_duration_seconds',
      help: 'Time to make one nft set equal to its model (all transactions of one apply).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    refills: new Counter({
      name: 'unbound_sidecar_set_sync_refills_total',
      help: 'Sets refilled from the model after an outside change: flushed, recreated (table or set re-created, e.g. an nftables reload), foreign (elements changed by someone else), monitor (monitor restarted, events may be lost), lost (nftables events dropped: the netlink receive buffer overflowed).',
      labelNames: ['reason'] as const,
      registers,
    }),
    applyFailures: new Counter({
      name: 'unbound_sidecar_set_sync_apply_failures_total',
      help: 'Applies that failed, by set and reason: missing (table or set), nft (transaction refused), readback (listing failed).',
      labelNames: ['set', 'reason'] as const,
      registers,
    }),
    nftTimeouts: new Counter({
      name: 'unbound_sidecar_set_sync_nft_timeouts_total',
      help: 'nftables netlink requests of set-sync that passed their deadline (the socket is abandoned, the sets read back and repaired).',
      registers,
    }),
    lastApply: new Gauge({ name: 'unbound_sidecar_set_sync_last_apply_timestamp_seconds', help: 'Unix time of the last successful apply, by set.', labelNames: ['set'] as const, registers }),
  };
}

export type SetSyncMetrics = ReturnType<typeof createSetSyncMetrics>;
