import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../src/config/index.js';
import { startDaemon } from '../src/daemon.js';
import { buildQuery, decode, udpExchange } from './dns-server/dns-test-client.js';
import { startFakeUpstream } from './dns-front/fake-upstream.js';
import { statusSnapshotSchema } from '../src/http/status.js';
import { lintMetricNames } from './helpers/metric-lint.js';

/**
 * The whole daemon in-process, without root: the real DNS front, cache, policy and HTTP listener,
 * with the system bus pointed at a socket that does not exist (Avahi absent). Integration tests
 * with a real Avahi live in test/integration/.
 */
async function withDaemon(fn: (ports: { dns: number; http: number }, registry: Awaited<ReturnType<typeof startDaemon>>['registry']) => Promise<void>): Promise<void> {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const config = parseConfig({
    dns: { listen: ['127.0.0.1:0'], zones: ['local.', '77.10.in-addr.arpa.'] },
    metrics: { listen: '127.0.0.1:0' },
    // `avahi`, not the default `auto`: with Avahi absent `auto` goes native and would send mDNS
    // queries out of this machine's real interfaces; tests only talk to loopback and lab namespaces.
    mdns: { backend: 'avahi', policy: { staticRecords: ['router.local. A 10.77.0.1'] } },
  });
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  try {
    const dnsPort = daemon.dnsAddresses().udp[0]?.port;
    assert.ok(dnsPort);
    await fn({ dns: dnsPort, http: daemon.httpAddress().port }, daemon.registry);
  } finally {
    await daemon.stop();
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
}

test('daemon without Avahi: static records answer, lookups SERVFAIL fast, /readyz says why, off-zone REFUSED', async () => {
  await withDaemon(async (ports) => {
    const hit = decode((await udpExchange(ports.dns, buildQuery({ id: 1, name: 'Router.local', type: 1 }))) ?? Buffer.alloc(0));
    assert.equal(hit.header.rcode, 0);
    assert.equal(hit.answers[0]?.address, '10.77.0.1');

    const t0 = performance.now();
    const miss = decode((await udpExchange(ports.dns, buildQuery({ id: 2, name: 'printer.local', type: 1 }))) ?? Buffer.alloc(0));
    assert.equal(miss.header.rcode, 2, 'SERVFAIL while Avahi is absent');
    assert.ok(performance.now() - t0 < 100, 'and within 100 ms');

    const off = decode((await udpExchange(ports.dns, buildQuery({ id: 3, name: 'example.com', type: 1 }))) ?? Buffer.alloc(0));
    assert.equal(off.header.rcode, 5);

    const ready = await fetch(`http://127.0.0.1:${ports.http}/readyz`);
    assert.equal(ready.status, 503);
    const body = await ready.text();
    assert.match(body, /^ok dns: listening/m);
    assert.match(body, /^FAIL mdns: avahi down/m);
    assert.equal((await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${ports.http}/nope`)).status, 404);
  });
});

test('every exported metric follows the naming rules (one namespace, units, _total on counters only)', async () => {
  await withDaemon(async (ports, registry) => {
    await udpExchange(ports.dns, buildQuery({ id: 4, name: 'router.local', type: 1 }));
    const metrics = await registry.getMetricsAsJSON();
    const names = metrics.map((m) => m.name);
    for (const required of [
      'unbound_sidecar_dns_requests_total',
      'unbound_sidecar_dns_request_duration_seconds',
      'unbound_sidecar_local_names_cache_hits_total',
      'unbound_sidecar_local_names_cache_misses_total',
      'unbound_sidecar_local_names_cache_entries',
      'unbound_sidecar_local_names_backend_lookups_total',
      'unbound_sidecar_local_names_backend_timeouts_total',
      'unbound_sidecar_local_names_backend_errors_total',
      'unbound_sidecar_avahi_up',
    ]) {
      assert.ok(names.includes(required), `${required} is exported`);
    }
    lintMetricNames(metrics);
  });
});

test('the metric-name lint also covers the list pipeline and the learner (their metrics exist only with lists)', async () => {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const stateDir = mkdtempSync(join(tmpdir(), 'us-lint-'));
  // The source is a closed loopback port and the first download comes after the test: nothing leaves
  // the machine, and no set is applied (nftables is not touched).
  const config = parseConfig({
    dns: { listen: ['127.0.0.1:0'] },
    metrics: { listen: '127.0.0.1:0' },
    mdns: { backend: 'avahi' },
    stateDir,
    lists: [{ name: 'lint', sources: [{ url: 'http://127.0.0.1:9/list.json', format: 'json', contains: 'ips' }], nft: { table: 'sidecar_lint', set4: 'v4' }, learn: { set4: 'learned4' } }],
    resolve: { enabled: false },
    admin: { socket: join(stateDir, 'admin.sock') },
  });
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  try {
    const metrics = await daemon.registry.getMetricsAsJSON();
    const names = metrics.map((m) => m.name);
    for (const required of [
      'unbound_sidecar_list_last_success_timestamp_seconds',
      'unbound_sidecar_set_sync_elements',
      'unbound_sidecar_set_sync_apply_failures_total',
      'unbound_sidecar_learner_learned_elements',
      'unbound_sidecar_learner_dnstap_frames_total',
    ]) {
      assert.ok(names.includes(required), `${required} is exported`);
    }
    lintMetricNames(metrics);
  } finally {
    await daemon.stop();
    rmSync(stateDir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
});

test("with lists and a learner: /readyz runs the components' checks in start order, /api/status is made of their statuses", async () => {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const stateDir = mkdtempSync(join(tmpdir(), 'us-ready-'));
  // As in the lint test above: a closed loopback source, no download before the test ends, no set applied.
  const config = parseConfig({
    dns: { listen: ['127.0.0.1:0'] },
    metrics: { listen: '127.0.0.1:0' },
    mdns: { backend: 'avahi' },
    stateDir,
    lists: [
      { name: 'learns', refresh: '2h', sources: [{ url: 'http://127.0.0.1:9/a.json', format: 'json', contains: 'ips' }], nft: { table: 'sidecar_ready', set4: 'v4' }, learn: { set4: 'learned4' } },
      { name: 'plain', sources: [{ url: 'http://127.0.0.1:9/b.json', format: 'json', contains: 'ips' }], nft: { table: 'sidecar_ready', set4: 'p4' } },
    ],
    resolve: { enabled: false },
    admin: { socket: join(stateDir, 'admin.sock') },
  });
  const daemon = await startDaemon(config, pino({ level: 'silent' }), { version: '9.9.9' });
  try {
    const base = `http://127.0.0.1:${daemon.httpAddress().port}`;
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503, 'Avahi is absent');
    assert.equal(
      await ready.text(),
      ['FAIL mdns: avahi down (answers are SERVFAIL until it returns)', 'ok dns: listening on 127.0.0.1:0', 'ok lists: 2 list(s) restored and syncing', `ok state: ${stateDir} writable`, ''].join(
        '\n',
      ),
    );
    const status = statusSnapshotSchema.parse(await (await fetch(`${base}/api/status`)).json());
    assert.equal(status.version, '9.9.9');
    assert.deepEqual(status.health.mdns, { backend: 'avahi', up: false });
    assert.deepEqual(status.health.state, { dir: stateDir, writable: true, failures: [] });
    assert.equal(status.health.front, undefined);
    assert.deepEqual(
      status.lists.map((l) => ({ name: l.name, refreshSeconds: l.refreshSeconds, outcome: l.outcome, learned: l.learned, sets: l.sets })),
      [
        { name: 'learns', refreshSeconds: 7200, outcome: undefined, learned: 0, sets: [] },
        { name: 'plain', refreshSeconds: 3600, outcome: undefined, learned: undefined, sets: [] },
      ],
      'each configured list, the learned count only where the list learns',
    );
    assert.equal(status.lookup, true, 'the learner answers /api/lookup');
  } finally {
    await daemon.stop();
    rmSync(stateDir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
});

test('front without any learning list is a pure PROXYv2 relay: answers, /api/status has a front section, its metrics pass the lint', async () => {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const up = await startFakeUpstream();
  const config = parseConfig({
    dns: { listen: ['127.0.0.1:0'] },
    metrics: { listen: '127.0.0.1:0' },
    mdns: { backend: 'avahi' },
    front: { listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${up.port}` },
  });
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  try {
    const port = daemon.frontAddresses()?.udp[0]?.port;
    assert.ok(port);
    const r = await udpExchange(port, buildQuery({ id: 77, name: 'example.org', type: 1 }));
    assert.ok(r && r.readUInt16BE(0) === 77 && (r[2] as number) & 0x80, 'relayed');
    assert.equal(up.seen.length, 1, 'with a PROXYv2 header');
    const status = statusSnapshotSchema.parse(await (await fetch(`http://127.0.0.1:${daemon.httpAddress().port}/api/status`)).json());
    assert.equal(status.health.front?.insertion.state, 'off');
    assert.equal(status.health.front?.upstream, `127.0.0.1:${up.port}`);
    const metrics = await daemon.registry.getMetricsAsJSON();
    const names = metrics.map((m) => m.name);
    for (const required of [
      'unbound_sidecar_dns_front_queries_total',
      'unbound_sidecar_dns_front_upstream_duration_seconds',
      'unbound_sidecar_dns_front_insert_wait_seconds',
      'unbound_sidecar_dns_front_insert_deadline_misses_total',
      'unbound_sidecar_dns_front_refused_clients_total',
      'unbound_sidecar_dns_front_dropped_total',
    ]) {
      assert.ok(names.includes(required), `${required} is exported`);
    }
    lintMetricNames(metrics);
  } finally {
    await daemon.stop();
    await up.close();
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
});
