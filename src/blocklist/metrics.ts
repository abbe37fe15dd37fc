import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';

/**
 * blocklist metrics, registered on the injected registry (each test builds a fresh one). Their
 * namespace is `list`, not `blocklist`: the names predate the folder and dashboards and alerts query
 * them (an exception in the metric-name lint).
 */
export function createBlocklistMetrics(registry: Registry) {
  const m = capabilityMetrics(registry, 'list');
  return {
    entries: m.gauge({
      name: 'entries',
      help: 'Merged address ranges in the list model (what becomes nft set elements), by family.',
      labelNames: ['list', 'family'] as const,
    }),
    domains: m.gauge({ name: 'domains', help: 'Normalised domain entries kept in the list model.', labelNames: ['list'] as const }),
    lastSuccess: m.gauge({
      name: 'last_success_timestamp_seconds',
      help: 'When every source of the list last delivered (new data or 304), Unix seconds. Alert on its age.',
      labelNames: ['list'] as const,
    }),
    missingSources: m.gauge({
      name: 'sources_without_data',
      help: 'Sources of the list with no good data at all (failed, never delivered). While above 0 the list is incomplete and its sets keep the last good model.',
      labelNames: ['list'] as const,
    }),
    refreshInterval: m.gauge({
      name: 'refresh_interval_seconds',
      help: 'Configured refresh interval of the list (before ±10% jitter). The stale alert fires at 3x this without a full success.',
      labelNames: ['list'] as const,
    }),
    fetchFailures: m.counter({
      name: 'fetch_failures_total',
      help: 'Source downloads not taken, by reason: timeout, http-status, too-large, decode, redirect, tls, network, aborted, parse, below-min-ratio, too-many-entries.',
      labelNames: ['list', 'source', 'reason'] as const,
    }),
    rejected: m.counter({
      name: 'rejected_entries_total',
      help: 'Entries dropped while parsing, by reason: not-an-address, bad-prefix-length, bad-range, too-broad, bogon, excluded, invalid-domain, not-a-string.',
      labelNames: ['list', 'reason'] as const,
    }),
    fetchDuration: m.histogram({
      name: 'fetch_duration_seconds',
      help: 'Time to download and decode one source, retries included.',
      labelNames: ['list'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
    refreshes: m.counter({
      name: 'refreshes_total',
      help: 'List refreshes by outcome: updated, unchanged, kept-last-good, partial, failed.',
      labelNames: ['list', 'outcome'] as const,
    }),
    snapshotErrors: m.counter({
      name: 'snapshot_errors_total',
      help: 'Snapshot files that could not be written (op=write) or were corrupt and ignored (op=read).',
      labelNames: ['list', 'op'] as const,
    }),
  };
}

export type BlocklistMetrics = ReturnType<typeof createBlocklistMetrics>;
