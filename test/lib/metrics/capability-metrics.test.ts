import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { capabilityMetrics } from '../../../src/lib/metrics/capability-metrics.js';

test('capabilityMetrics prefixes unbound_sidecar_<namespace>_ and registers on the given registry only', async () => {
  const registry = new Registry();
  const other = new Registry();
  const m = capabilityMetrics(registry, 'dns_front');
  assert.equal(m.prefix, 'unbound_sidecar_dns_front_');
  const c = m.counter({ name: 'queries_total', help: 'q', labelNames: ['transport'] as const });
  const g = m.gauge({ name: 'tcp_connections', help: 't' });
  const h = m.histogram({ name: 'wait_seconds', help: 'w', buckets: [0.1, 1] });
  c.inc({ transport: 'udp' });
  g.set(2);
  h.observe(0.5);
  const metrics = await registry.getMetricsAsJSON();
  assert.deepEqual(
    metrics.map((x) => [x.name, String(x.type)]),
    [
      ['unbound_sidecar_dns_front_queries_total', 'counter'],
      ['unbound_sidecar_dns_front_tcp_connections', 'gauge'],
      ['unbound_sidecar_dns_front_wait_seconds', 'histogram'],
    ],
  );
  assert.deepEqual(metrics[0]?.values, [{ value: 1, labels: { transport: 'udp' } }]);
  assert.equal((await other.getMetricsAsJSON()).length, 0);
  // The same short name again is the same full name: prom-client refuses it, as without the helper.
  assert.throws(() => m.gauge({ name: 'tcp_connections', help: 't' }), /already been registered/);
});

test('capabilityMetrics keeps prom-client options (collect runs on scrape with the metric as this) and label types', async () => {
  const registry = new Registry();
  const m = capabilityMetrics(registry, 'http');
  let open = 0;
  m.gauge({
    name: 'connections',
    help: 'open',
    collect() {
      this.set(open);
    },
  });
  open = 7;
  assert.match(await registry.metrics(), /^unbound_sidecar_http_connections 7$/m);
  const c = m.counter({ name: 'requests_total', help: 'r', labelNames: ['path'] as const });
  // @ts-expect-error a label the counter was not declared with
  assert.throws(() => c.inc({ code: '200' }), /Added label "code" is not included/);
});

test('capabilityMetrics refuses a namespace that is not snake_case (the folder name with - is a typo)', () => {
  assert.throws(() => capabilityMetrics(new Registry(), 'dns-front'), /not snake_case/);
  assert.throws(() => capabilityMetrics(new Registry(), ''), /not snake_case/);
});
