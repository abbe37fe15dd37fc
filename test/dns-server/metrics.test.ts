import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { dnsConfigSchema } from '../../src/dns-server/config.js';
import { createDnsMetrics } from '../../src/dns-server/metrics.js';
import { a, buildQuery, startServer, udpExchange } from './dns-test-client.js';

test('metric names follow unbound_sidecar_dns_<what>_<unit> and Prometheus conventions', async () => {
  const registry = new Registry();
  createDnsMetrics(registry, ['local.']);
  const metrics = await registry.getMetricsAsJSON();
  assert.deepEqual(metrics.map((m) => m.name).sort(), [
    'unbound_sidecar_dns_malformed_total',
    'unbound_sidecar_dns_request_duration_seconds',
    'unbound_sidecar_dns_requests_total',
    'unbound_sidecar_dns_tcp_connections',
    'unbound_sidecar_dns_tcp_connections_closed_total',
    'unbound_sidecar_dns_udp_handoffs_total',
  ]);
  for (const m of metrics) {
    assert.match(m.name, /^unbound_sidecar_dns_[a-z_]+[a-z]$/);
    if (String(m.type) === 'counter') assert.match(m.name, /_total$/, m.name);
    if (String(m.type) === 'histogram') assert.match(m.name, /_seconds$/, m.name);
    assert.ok(m.help.length > 10, `${m.name} has help`);
  }
});

test('requests_total labels: zone or "none", bounded qtype, rcode name', async () => {
  const { server, port, registry } = await startServer({
    resolve: async (q) => (q.type === 1 ? { kind: 'answer', records: [{ name: q.name, type: 1, class: 1, ttl: 1, data: a('10.0.0.1') }] } : { kind: 'nxdomain' }),
  });
  try {
    for (const [name, type] of [
      ['x.local', 1],
      ['x.local', 1],
      ['y.local', 65000],
      ['example.com', 28],
    ] as const) {
      assert.ok(await udpExchange(port, buildQuery({ name, type })));
    }
    await udpExchange(port, Buffer.alloc(5), 100);
    const text = await registry.metrics();
    assert.match(text, /unbound_sidecar_dns_requests_total\{zone="local\.",qtype="A",rcode="NOERROR"\} 2/);
    assert.match(text, /unbound_sidecar_dns_requests_total\{zone="local\.",qtype="other",rcode="NXDOMAIN"\} 1/);
    assert.match(text, /unbound_sidecar_dns_requests_total\{zone="none",qtype="AAAA",rcode="REFUSED"\} 1/);
    assert.match(text, /unbound_sidecar_dns_malformed_total\{reason="short-header"\} 1/);
    assert.match(text, /unbound_sidecar_dns_request_duration_seconds_count 4/);
  } finally {
    await server.stop();
  }
});

test('README example config parses', () => {
  // Walk up to the repo root: this file runs from test/ under tsx and from dist/test/ after tsc.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    assert.notEqual(dirname(dir), dir, 'repo root not found');
    dir = dirname(dir);
  }
  const readme = readFileSync(join(dir, 'src/dns-server/README.md'), 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has a json example');
  const parsed = dnsConfigSchema.parse((JSON.parse(block) as { dns: unknown }).dns);
  assert.deepEqual(parsed.zones, ['local.', '77.10.in-addr.arpa.']);
});
