import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** blocklist metrics, registered on the injected registry (each test builds a fresh one). */
export function createBlocklistMetrics(registry: Registry) {
  const registers = [registry];
  return {
    entries: new Gauge({
      name: 'unbound_sidecar_list_entries',
      help: 'Merged address ranges in the list model (what becomes nft set elements), by family.',
      labelNames: ['list', 'family'] as const,
      registers,
    }),
    domains: new Gauge({ name: 'unbound_sidecar_list_domains', help: 'Normalised domain entries kept in the list model.', labelNames: ['list'] as const, registers }),
    lastSuccess: new Gauge({
      name: 'unbound_sidecar_list_last_success_timestamp_seconds',
      help: 'When every source of the list last delivered (new data or 304), Unix seconds. Alert on its age.',
      labelNames: ['list'] as const,
      registers,
    }),
    missingSources: new Gauge({
      name: 'unbound_sidecar_list_sources_without_data',
      help: 'Sources of the list with no good data at all (failed, never delivered). While above 0 the list is incomplete and its sets keep the last good model.',
      labelNames: ['list'] as const,
      registers,
    }),
    refreshInterval: new Gauge({
      name: 'unbound_sidecar_list_refresh_interval_seconds',
      help: 'Configured refresh interval of the list (before ±10% jitter). The stale alert fires at 3x this without a full success.',
      labelNames: ['list'] as const,
      registers,
    }),
    fetchFailures: new Counter({
      name: 'unbound_sidecar_list_fetch_failures_total',
      help: 'Source downloads not taken, by reason: timeout, http-status, too-large, decode, redirect, tls, network, aborted, parse, below-min-ratio, too-many-entries.',
      labelNames: ['list', 'source', 'reason'] as const,
      registers,
    }),
    rejected: new Counter({
      name: 'unbound_sidecar_list_rejected_entries_total',
      help: 'Entries dropped while parsing, by reason: not-an-address, bad-prefix-length, bad-range, too-broad, bogon, excluded, invalid-domain, not-a-string.',
      labelNames: ['list', 'reason'] as const,
      registers,
    }),
    fetchDuration: new Histogram({
      name: 'unbound_sidecar_list_fetch_duration_seconds',
      help: 'Time to download and decode one source, retries included.',
      labelNames: ['list'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    refreshes: new Counter({
      name: 'unbound_sidecar_list_refreshes_total',
      help: 'List refreshes by outcome: updated, unchanged, kept-last-good, partial, failed.',
      labelNames: ['list', 'outcome'] as const,
      registers,
    }),
    snapshotErrors: new Counter({
      name: 'unbound_sidecar_list_snapshot_errors_total',
      help: 'Snapshot files that could not be written (op=write) or were corrupt and ignored (op=read).',
      labelNames: ['list', 'op'] as const,
      registers,
    }),
  };
}

export type BlocklistMetrics = ReturnType<typeof createBlocklistMetrics>;
