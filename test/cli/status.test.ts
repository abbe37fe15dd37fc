import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { metricsBaseUrl, statusCommand, EXIT_UNHEALTHY, EXIT_UNREACHABLE } from '../../src/cli/status.js';
import { changedPaths, reloadConfig } from '../../src/cli/reload.js';
import { parseConfig } from '../../src/config/index.js';
import { createHttpServer, type StatusSnapshot } from '../../src/http/index.js';
import { fakeStatus } from '../http/status-fixtures.js';

async function serve(status: (() => StatusSnapshot) | undefined, fn: (base: string) => Promise<void>): Promise<void> {
  const server = createHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), logger: pino({ level: 'silent' }), readiness: [], ...(status ? { status } : {}) });
  await server.start();
  try {
    await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await server.stop();
  }
}

function capture(color = false) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), color }, out, err };
}

test('status: the facts in plain text, exit 1 when unhealthy, hostile text made harmless', async () => {
  await serve(
    () => fakeStatus(),
    async (base) => {
      const c = capture();
      assert.equal(await statusCommand({ file: undefined, json: false, metricsUrl: base }, c.io), EXIT_UNHEALTHY);
      const text = c.out.join('');
      assert.doesNotMatch(text, /\u001b/, 'no colour codes when not a TTY, and no escape from the network');
      assert.match(text, /^unbound-sidecar 0\.1\.0-test · up 1d 6h/);
      assert.match(text, /mdns {5}avahi up/);
      assert.match(text, /dnstap {3}connected · 1 connection\(s\) · 12345 frames/);
      assert.match(text, /ru-blocked {2}updated\n {4}last sync 2025-06-01 11:55:00Z · fresh 5m ago · refresh every 1h · learned 42\n {4}inet vpn force_vpn4: 12345 element\(s\)/);
      assert.match(text, /fresh 5h ago \(stale\)/);
      assert.match(text, /HTTP 502 from mirror <img src=x onerror="window.__xss=1">\?\[2J/);
      assert.match(text, /error blocklist: blocklist: download failed/);
      assert.match(text, /unhealthy:\n {2}- list evil.*stale/);

      const colored = capture(true);
      await statusCommand({ file: undefined, json: false, metricsUrl: base }, colored.io);
      assert.match(colored.out.join(''), /\u001b\[32mavahi up\u001b\[0m/);

      const j = capture();
      assert.equal(await statusCommand({ file: undefined, json: true, metricsUrl: `${base}/` }, j.io), EXIT_UNHEALTHY);
      const parsed = JSON.parse(j.out.join('')) as { lists: unknown[]; assessment: { healthy: boolean; problems: string[] } };
      assert.equal(parsed.lists.length, 2);
      assert.equal(parsed.assessment.healthy, false);
    },
  );

  await serve(
    () => ({ ...fakeStatus(), lists: fakeStatus().lists.slice(0, 1) }),
    async (base) => {
      const c = capture();
      assert.equal(await statusCommand({ file: undefined, json: false, metricsUrl: base }, c.io), 0);
      assert.match(c.out.join(''), /\nhealthy\n$/);
    },
  );
});

test('status: unreachable, 404 and foreign JSON exit 3 with a clear message', async () => {
  let closedPort = '';
  await serve(undefined, async (base) => {
    const c = capture();
    assert.equal(await statusCommand({ file: undefined, json: false, metricsUrl: base }, c.io), EXIT_UNREACHABLE);
    assert.match(c.err.join(''), /answered 404: the daemon there has no status API/);
    closedPort = base;
  });
  const c = capture();
  assert.equal(await statusCommand({ file: undefined, json: true, metricsUrl: closedPort, timeoutMs: 2000 }, c.io), EXIT_UNREACHABLE);
  assert.match(c.err.join(''), /cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+\/api\/status: .*is it running\?/);
  assert.equal(c.out.length, 0, '--json prints nothing on stdout when there is no status');

  // Another service on the port that happens to answer JSON.
  const foreign = createServer((_req, res) => res.end('{"hello":"world"}'));
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
  try {
    const f = capture();
    assert.equal(await statusCommand({ file: undefined, json: false, metricsUrl: `http://127.0.0.1:${(foreign.address() as AddressInfo).port}` }, f.io), EXIT_UNREACHABLE);
    assert.match(f.err.join(''), /not a status snapshot \(version: /);
  } finally {
    foreign.close();
  }
});

test('status finds the daemon through metrics.listen in the config', async () => {
  assert.equal(metricsBaseUrl('127.0.0.1:9335'), 'http://127.0.0.1:9335');
  assert.equal(metricsBaseUrl('0.0.0.0:9335'), 'http://127.0.0.1:9335');
  assert.equal(metricsBaseUrl('[::]:9335'), 'http://[::1]:9335');
  assert.equal(metricsBaseUrl('[fd00::1]:9335'), 'http://[fd00::1]:9335');
  await serve(
    () => fakeStatus(),
    async (base) => {
      const dir = mkdtempSync(join(tmpdir(), 'us-status-'));
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ metrics: { listen: base.replace('http://', '') } }));
      assert.equal(await statusCommand({ file, json: true }, capture().io), EXIT_UNHEALTHY);
    },
  );
});

test('reloadConfig: a valid file with what changed; an invalid one keeps the old config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-reload-'));
  const file = join(dir, 'config.json');
  const current = parseConfig({ log: { level: 'info' } });
  writeFileSync(file, JSON.stringify({ log: { level: 'debug' }, dns: { listen: ['127.0.0.1:5400'] } }));
  const ok = await reloadConfig(file, current);
  assert.ok(ok.kind === 'loaded');
  assert.equal(ok.config.log.level, 'debug');
  assert.deepEqual(ok.changed, ['dns.listen', 'log.level']);

  // Command-line overrides survive a reload when the caller passes them as `rebase`.
  const rebased = await reloadConfig(file, current, (raw) => ({ ...(raw as Record<string, unknown>), dns: { listen: ['127.0.0.1:5335'] } }));
  assert.ok(rebased.kind === 'loaded');
  assert.deepEqual(rebased.changed, ['log.level']);

  writeFileSync(file, JSON.stringify({ mdns: { backend: 'bonjour' } }));
  const bad = await reloadConfig(file, current);
  assert.ok(bad.kind === 'invalid');
  assert.match(bad.error, /mdns\.backend/);
  writeFileSync(file, '{ not json');
  const broken = await reloadConfig(file, current);
  assert.ok(broken.kind === 'invalid' && /not valid JSON/.test(broken.error));
  const missing = await reloadConfig(join(dir, 'gone.json'), current);
  assert.ok(missing.kind === 'invalid' && /cannot read/.test(missing.error));

  assert.deepEqual(changedPaths(current, current), []);
  assert.deepEqual(changedPaths(current, { ...current, lists: [] }), []);

  // Overrides are applied to the JSON, not to a parsed config: parsing turns "1h" into ms, and a
  // second validation of that once made every config with lists fail to start.
  const list = { name: 'vpn', refresh: '1h', sources: [{ url: 'https://reestr.rublacklist.net/api/v3/ips/', format: 'json', contains: 'ips' }], nft: { table: 'global', set4: 'v4' } };
  writeFileSync(file, JSON.stringify({ lists: [list] }));
  const withLists = await reloadConfig(file, current, (raw) => ({ ...(raw as Record<string, unknown>), dns: { listen: ['127.0.0.1:5335'] } }));
  assert.ok(withLists.kind === 'loaded', withLists.kind === 'invalid' ? withLists.error : '');
  assert.equal(withLists.config.lists[0]?.refresh, 3_600_000);
});
