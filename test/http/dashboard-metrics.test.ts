import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fullDaemonMetrics } from '../helpers/full-daemon.js';
import { repoRoot } from '../helpers/repo-root.js';

/**
 * Every unbound_sidecar_* series the Grafana dashboard and the alert rules query must be one the
 * daemon exports: a renamed metric otherwise turns a panel blank and an alert silent, and nobody
 * notices until the outage it was meant to catch.
 *
 * "Exported" = what a real daemon registers, started in-process with every capability on
 * (test/helpers/full-daemon.ts: a list with learned sets, the front): nothing leaves this machine
 * and nothing touches nftables.
 */

/**
 * Referenced before it exists, on purpose: the stale-list alert needs each list's refresh interval
 * and falls back to 1h (`or`) until the blocklist exports it.
 * The test fails once it is exported, so this list shrinks to empty instead of hiding a typo later.
 */
const AWAITING_EXPORT = new Set<string>([]);

function referencedNames(text: string): Set<string> {
  return new Set(text.match(/\bunbound_sidecar_[a-z0-9_]*[a-z0-9]/g) ?? []);
}

async function exportedSeries(): Promise<Set<string>> {
  const series = new Set<string>();
  for (const m of await fullDaemonMetrics()) {
    series.add(m.name);
    // PromQL queries a histogram through its _bucket/_sum/_count series, a summary through _sum/_count.
    const type = String(m.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(m.name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) series.add(m.name + s);
  }
  return series;
}

interface Panel {
  type?: unknown;
  title?: unknown;
  id?: unknown;
  targets?: unknown;
}

test('the Grafana dashboard and the alert rules only query exported metrics', async () => {
  const root = repoRoot();
  const dashboardText = readFileSync(join(root, 'config', 'grafana', 'unbound-sidecar.json'), 'utf8');
  const rulesText = readFileSync(join(root, 'config', 'prometheus', 'alerts.yml'), 'utf8');
  const exported = await exportedSeries();

  // The dashboard is importable JSON with unique panel ids and a query on every non-row panel.
  const dashboard: unknown = JSON.parse(dashboardText);
  assert.ok(typeof dashboard === 'object' && dashboard !== null && 'panels' in dashboard && Array.isArray(dashboard.panels));
  const panels = dashboard.panels as Panel[];
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels) {
    if (p.type === 'row') continue;
    assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `panel "${String(p.title)}" has a query`);
  }

  const problems: string[] = [];
  for (const [file, text] of [
    ['config/grafana/unbound-sidecar.json', dashboardText],
    ['config/prometheus/alerts.yml', rulesText],
  ] as const) {
    const names = referencedNames(text);
    assert.ok(names.size > 5, `${file} references metrics`);
    for (const name of names) {
      if (AWAITING_EXPORT.has(name)) continue;
      if (!exported.has(name)) problems.push(`${file}: ${name} is not exported`);
    }
  }
  assert.deepEqual(problems, [], 'every referenced unbound_sidecar_* series exists');

  for (const name of AWAITING_EXPORT) {
    assert.ok(!exported.has(name), `${name} is exported now: remove it from AWAITING_EXPORT in this test`);
  }
});

test('the dashboard panels and alerts are all there', () => {
  const root = repoRoot();
  const dashboard = readFileSync(join(root, 'config', 'grafana', 'unbound-sidecar.json'), 'utf8');
  const rules = readFileSync(join(root, 'config', 'prometheus', 'alerts.yml'), 'utf8');
  for (const [what, re] of [
    ['queries/s by rcode', /sum by \(rcode\) \(rate\(unbound_sidecar_dns_requests_total/],
    ['latency quantiles', /histogram_quantile\(0\.99, sum by \(le\) \(rate\(unbound_sidecar_dns_request_duration_seconds_bucket/],
    ['cache hit ratio', /unbound_sidecar_local_names_cache_hits_total.*unbound_sidecar_local_names_cache_misses_total/],
    ['list freshness', /time\(\) - max by \(list\) \(unbound_sidecar_list_last_success_timestamp_seconds/],
    ['set sizes', /unbound_sidecar_set_sync_elements/],
    ['Avahi up', /unbound_sidecar_avahi_up/],
  ] as const) {
    assert.match(dashboard, re, `dashboard: ${what}`);
  }
  for (const alert of ['UnboundSidecarListStale', 'UnboundSidecarAvahiDown', 'UnboundSidecarNftApplyFailing']) {
    assert.match(rules, new RegExp(`- alert: ${alert}\\n\\s+expr: `), `rule ${alert}`);
  }
});
