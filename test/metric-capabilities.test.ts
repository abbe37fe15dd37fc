import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fullDaemonMetrics } from './helpers/full-daemon.js';
import { capabilityPrefix, defaultMetricNames, LEGACY_METRIC_NAMES, lintMetricNames, metricCapabilities, metricOwner } from './helpers/metric-lint.js';
import { repoRoot } from './helpers/repo-root.js';

/**
 * The metric names a README's `## Metrics` section documents: each backticked name (labels in
 * `{…}` dropped), and a backticked `_suffix` as the capability's prefix + suffix (the learner's
 * README lists its metrics that way after the first full name).
 */
function documentedMetrics(capability: string): Set<string> {
  const text = readFileSync(join(repoRoot(), 'src', capability, 'README.md'), 'utf8');
  const section = /^## Metrics\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text)?.[1];
  assert.ok(section !== undefined, `src/${capability}/README.md has a "## Metrics" section`);
  const out = new Set<string>();
  for (const [, token] of section.matchAll(/`([^`\n]+)`/g)) {
    const name = (token ?? '').replace(/\{[^}]*\}$/, '');
    if (/^unbound_sidecar_[a-z0-9_]*[a-z0-9]$/.test(name)) out.add(name);
    else if (/^_[a-z0-9_]*[a-z0-9]$/.test(name)) out.add(capabilityPrefix(capability).slice(0, -1) + name);
  }
  return out;
}

test('every metric of a full daemon is named unbound_sidecar_<capability>_ (or a listed older name) and passes the lint', async () => {
  const metrics = await fullDaemonMetrics();
  lintMetricNames(metrics);
  const names = new Set(metrics.map((m) => m.name));
  // The exception list only shrinks: a listed name that is gone must leave the list too.
  for (const legacy of LEGACY_METRIC_NAMES.keys()) assert.ok(names.has(legacy), `${legacy} (a listed exception) is still exported`);
  // The daemon above really has every capability on.
  const defaults = defaultMetricNames();
  const owners = new Set([...names].filter((n) => !defaults.has(n)).map((n) => metricOwner(n)));
  assert.deepEqual([...owners].sort(), metricCapabilities());
});

test("every metric a capability exports is in its README's Metrics section, and the section lists no metric that is not exported", async () => {
  const defaults = defaultMetricNames();
  const exported = (await fullDaemonMetrics()).map((m) => m.name).filter((n) => !defaults.has(n));
  const capabilities = metricCapabilities();
  const undocumented: Record<string, string[]> = {};
  const notExported: Record<string, string[]> = {};
  for (const capability of capabilities) {
    const documented = documentedMetrics(capability);
    const missing = exported.filter((n) => metricOwner(n, capabilities) === capability && !documented.has(n));
    if (missing.length > 0) undocumented[`src/${capability}/README.md`] = missing;
    const stale = [...documented].filter((n) => !exported.includes(n));
    if (stale.length > 0) notExported[`src/${capability}/README.md`] = stale;
  }
  assert.deepEqual(undocumented, {}, 'exported metrics missing from their README');
  assert.deepEqual(notExported, {}, 'README metrics the daemon does not export');
});

test('the capability rule: a name outside every capability fails the lint, an older prefix is no capability for new names', () => {
  const lint = (name: string) => () => lintMetricNames([{ name, help: 'h', type: 'counter' }]);
  assert.throws(lint('unbound_sidecar_resolver_queries_total'), /starts with unbound_sidecar_<capability>_/);
  assert.throws(lint('unbound_sidecar_dns_new_total'), /starts with unbound_sidecar_<capability>_/);
  assert.throws(lint('unbound_sidecar_list_new_total'), /starts with unbound_sidecar_<capability>_/);
  assert.doesNotThrow(lint('unbound_sidecar_dns_front_new_total'));
  assert.doesNotThrow(lint('unbound_sidecar_process_cpu_seconds_total'));
  assert.equal(metricOwner('unbound_sidecar_dns_front_queries_total'), 'dns-front');
  assert.equal(metricOwner('unbound_sidecar_dns_requests_total'), 'dns-server');
  assert.equal(metricOwner('unbound_sidecar_set_sync_learned_ops_total'), 'set-sync');
});
