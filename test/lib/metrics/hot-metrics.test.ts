import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { capabilityMetrics } from '../../../src/lib/metrics/capability-metrics.js';

const BUCKETS = [0.0002, 0.001, 0.01, 1];
/** Values on and between the bounds, below the first, above the last, and repeats. */
const VALUES = [0.00001, 0.0002, 0.0003, 0.001, 0.0011, 0.01, 0.5, 1, 2, 7, 0.0002];

test('a hot histogram exposes exactly what a prom-client Histogram fed the same values does', async () => {
  const hotRegistry = new Registry();
  const hot = capabilityMetrics(hotRegistry, 'dns_front').hotHistogram({ name: 'wait_seconds', help: 'w', labelNames: ['transport'] as const, buckets: BUCKETS });
  const udp = hot.series({ transport: 'udp' });
  const tcp = hot.series({ transport: 'tcp' });
  const plainRegistry = new Registry();
  const plain = new Histogram({ name: 'unbound_sidecar_dns_front_wait_seconds', help: 'w', labelNames: ['transport'] as const, buckets: BUCKETS, registers: [plainRegistry] });
  VALUES.forEach((v, i) => {
    udp.observe(v);
    plain.observe({ transport: 'udp' }, v);
    if (i % 3 === 0) {
      tcp.observe(v * 2);
      plain.observe({ transport: 'tcp' }, v * 2);
    }
  });
  assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
  const json = async (r: Registry): Promise<unknown> => JSON.parse(JSON.stringify(await r.getMetricsAsJSON()));
  assert.deepEqual(await json(hotRegistry), await json(plainRegistry));
  hotRegistry.resetMetrics();
  const zero = await hotRegistry.metrics();
  assert.match(zero, /unbound_sidecar_dns_front_wait_seconds_count\{transport="udp"\} 0/);
  assert.match(zero, /unbound_sidecar_dns_front_wait_seconds_bucket\{le="\+Inf",transport="tcp"\} 0/);
});

test('a hot histogram without labels matches prom-client too, and ignores a non-finite value as prom-client refuses it', async () => {
  const hotRegistry = new Registry();
  const s = capabilityMetrics(hotRegistry, 'learner').hotHistogram({ name: 'delay_seconds', help: 'd', buckets: BUCKETS }).series({});
  const plainRegistry = new Registry();
  const plain = new Histogram({ name: 'unbound_sidecar_learner_delay_seconds', help: 'd', buckets: BUCKETS, registers: [plainRegistry] });
  assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics(), 'no observation yet: zeros on both');
  for (const v of VALUES) {
    s.observe(v);
    plain.observe(v);
  }
  s.observe(Number.NaN);
  assert.throws(() => plain.observe(Number.NaN));
  assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
});

test('a hot counter shows every increment at each scrape, and only there does it touch prom-client', async () => {
  const hotRegistry = new Registry();
  const hot = capabilityMetrics(hotRegistry, 'learner').hotCounter({ name: 'matched_answers_total', help: 'm', labelNames: ['list', 'outcome'] as const });
  const a = hot.series({ list: 'vpn', outcome: 'learned' });
  const b = hot.series({ list: 'vpn', outcome: 'unchanged' });
  hot.series({ list: 'other', outcome: 'failed' }); // never counted: not shown, as prom-client shows no series before its first inc
  const plainRegistry = new Registry();
  const plain = new Counter({ name: 'unbound_sidecar_learner_matched_answers_total', help: 'm', labelNames: ['list', 'outcome'] as const, registers: [plainRegistry] });
  for (let i = 0; i < 5; i++) {
    a.inc();
    plain.inc({ list: 'vpn', outcome: 'learned' });
  }
  b.inc(3);
  plain.inc({ list: 'vpn', outcome: 'unchanged' }, 3);
  assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
  a.inc();
  plain.inc({ list: 'vpn', outcome: 'learned' });
  assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics(), 'a second scrape adds only what came since the first');
  assert.match(await hotRegistry.metrics(), /outcome="learned"\} 6\n/);
});
