import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../src/lib/metrics/capability-metrics.js';
import { repoRoot } from './repo-root.js';

/**
 * The metric-name lint. CoreDNS names every plugin's metrics `coredns_<plugin>_…` and documents them
 * in a Metrics section of the plugin's README (https://github.com/coredns/coredns/blob/master/plugin.md,
 * "Metrics"); here that is `unbound_sidecar_<capability>_<what>_<unit>`, the capability being a src/
 * folder with a metrics.ts, `-` written `_`.
 */

/** Capabilities that export metrics: every src/ folder with a metrics.ts. */
export function metricCapabilities(): string[] {
  const src = join(repoRoot(), 'src');
  return readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(src, d.name, 'metrics.ts')))
    .map((d) => d.name)
    .sort();
}

/** `dns-front` → `unbound_sidecar_dns_front_`. */
export function capabilityPrefix(capability: string): string {
  return `${METRIC_PREFIX}${capability.replaceAll('-', '_')}_`;
}

/**
 * Names exported before the capability rule, kept as they are: the Grafana dashboard, the alert
 * rules (config/) and users' own dashboards query them, and a rename would blank those silently.
 * Each is documented in its owner's README. Do not add to this list: a new metric takes its
 * capability's prefix (capabilityMetrics in src/lib/metrics/).
 */
export const LEGACY_METRIC_NAMES: ReadonlyMap<string, string> = new Map([
  // blocklist: the list pipeline's metrics are named for what users configure, `lists[]`.
  ...[
    'entries',
    'domains',
    'last_success_timestamp_seconds',
    'sources_without_data',
    'refresh_interval_seconds',
    'fetch_failures_total',
    'rejected_entries_total',
    'fetch_duration_seconds',
    'refreshes_total',
    'snapshot_errors_total',
  ].map((n): [string, string] => [`${METRIC_PREFIX}list_${n}`, 'blocklist']),
  // dns-server: `dns_`, from when it was the only DNS listener (dns-front came later with its own prefix).
  ...['requests_total', 'request_duration_seconds', 'malformed_total', 'tcp_connections', 'tcp_connections_closed_total', 'udp_handoffs_total'].map((n): [string, string] => [
    `${METRIC_PREFIX}dns_${n}`,
    'dns-server',
  ]),
  // local-names: Avahi's reachability, from before the native backend existed.
  [`${METRIC_PREFIX}avahi_up`, 'local-names'],
]);

/** The capability a metric belongs to by its name (the longest matching prefix), else undefined. */
export function metricOwner(name: string, capabilities: readonly string[] = metricCapabilities()): string | undefined {
  const legacy = LEGACY_METRIC_NAMES.get(name);
  if (legacy !== undefined) return legacy;
  let owner: string | undefined;
  for (const c of capabilities) {
    if (name.startsWith(capabilityPrefix(c)) && (owner === undefined || c.length > owner.length)) owner = c;
  }
  return owner;
}

/** prom-client's process and Node.js metrics under the daemon's prefix: outside every capability. */
export function defaultMetricNames(): Set<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
}

export function lintMetricNames(metrics: { name: string; help: string; type: unknown }[]): void {
  const capabilities = metricCapabilities();
  const defaults = defaultMetricNames();
  for (const m of metrics) {
    const type = String(m.type);
    assert.match(m.name, /^unbound_sidecar_[a-z][a-z0-9_]*[a-z0-9]$/, `${m.name}: one namespace, snake_case`);
    if (!defaults.has(m.name)) {
      assert.ok(metricOwner(m.name, capabilities) !== undefined, `${m.name}: starts with unbound_sidecar_<capability>_, one of ${capabilities.join(', ')}`);
    }
    assert.ok(m.help.length > 0, `${m.name}: has help`);
    if (type === 'counter') assert.ok(m.name.endsWith('_total'), `${m.name}: counters end in _total`);
    else assert.ok(!m.name.endsWith('_total'), `${m.name}: only counters end in _total`);
    // A distribution says what it measures: a base unit, or what it counts (batch sizes in elements).
    if (type === 'histogram' || type === 'summary') assert.match(m.name, /_(seconds|bytes|elements)$/, `${m.name}: distributions carry a base unit or a counted thing`);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|kb|mb|percent)(_|$)/, `${m.name}: base units only (seconds, bytes, ratios)`);
    assert.doesNotMatch(m.name, /_(count|sum|bucket)$/, `${m.name}: reserved suffix`);
    // A point in time is `_timestamp_seconds` (Unix), a span `_seconds`; dashboards and
    // alerts compute ages with `time() - x`, which only works on Unix seconds.
    if (/timestamp/.test(m.name)) assert.match(m.name, /_timestamp_seconds$/, `${m.name}: timestamps are _timestamp_seconds`);
    if (/_(duration|latency|age|interval|timeout)(_|$)/.test(m.name)) assert.match(m.name, /_seconds(_total)?$/, `${m.name}: durations are in seconds`);
  }
}
