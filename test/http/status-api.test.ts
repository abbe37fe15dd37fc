import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createHttpServer, type HttpServerOptions } from '../../src/http/index.js';
import { assessStatus, formatAge, statusSnapshotSchema } from '../../src/http/status.js';
import { createRecentErrors } from '../../src/http/recent-errors.js';
import { fakeLookup, fakeStatus, XSS } from './status-fixtures.js';

async function withServer(extra: Partial<HttpServerOptions>, fn: (base: string) => Promise<void>): Promise<void> {
  const server = createHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), logger: pino({ level: 'silent' }), readiness: [], ...extra });
  await server.start();
  try {
    await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await server.stop();
  }
}

test('/api/status: the snapshot, the lookup flag and the assessment; / is the page with a strict CSP', async () => {
  await withServer({ status: () => fakeStatus(), lookup: fakeLookup }, async (base) => {
    const res = await fetch(`${base}/api/status`);
    assert.equal(res.status, 200);
    const body: unknown = await res.json();
    const parsed = statusSnapshotSchema.parse(body);
    assert.equal(parsed.lookup, true);
    assert.equal(parsed.lists[0]?.ageSeconds, 300);
    assert.ok(typeof body === 'object' && body !== null && 'assessment' in body);
    assert.deepEqual(body.assessment, assessStatus(parsed));

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no external resource: the page works offline');
  });
});

test('/api/lookup: answers from the provider (junk included: it says invalid), 501 without a provider', async () => {
  await withServer({ status: () => fakeStatus(), lookup: fakeLookup }, async (base) => {
    const hit = (await (await fetch(`${base}/api/lookup?q=${encodeURIComponent(' Example.ORG ')}`)).json()) as { kind: string; matches: unknown[] };
    assert.equal(hit.kind, 'domain');
    assert.equal(hit.matches.length, 2);
    const junk = await fetch(`${base}/api/lookup?q=${encodeURIComponent(XSS)}`);
    assert.equal(junk.status, 200);
    assert.deepEqual(await junk.json(), { query: XSS, kind: 'invalid', matches: [] });
    assert.equal((await fetch(`${base}/api/lookup`)).status, 400);
    assert.equal((await fetch(`${base}/api/lookup?q=${'a'.repeat(254)}`)).status, 400);
  });
  await withServer({ status: () => fakeStatus() }, async (base) => {
    const res = await fetch(`${base}/api/lookup?q=example.org`);
    assert.equal(res.status, 501);
    assert.match(((await res.json()) as { error: string }).error, /lookup not available/);
    assert.equal(((await (await fetch(`${base}/api/status`)).json()) as { lookup: boolean }).lookup, false);
  });
  await withServer({ lookup: () => Promise.reject(new Error('store corrupt')) }, async (base) => {
    assert.equal((await fetch(`${base}/api/lookup?q=example.org`)).status, 500);
  });
});

test('without a StatusProvider the listener is what it was: / and /api/status are 404', async () => {
  await withServer({}, async (base) => {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/api/status`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });
});

test('assessStatus: mdns down, stale, failed, set errors and dnstap are problems', () => {
  const s = fakeStatus();
  const a = assessStatus(s);
  assert.equal(a.healthy, false);
  assert.equal(a.problems.length, 2, a.problems.join('\n'));
  assert.match(a.problems[0] ?? '', /^list evil.*: stale, last full success 5h ago \(refresh every 1h\)/);
  assert.match(a.problems[1] ?? '', /last refresh failed: HTTP 502/);
  const fine = { ...s, lists: s.lists.slice(0, 1) };
  assert.deepEqual(assessStatus(fine), { healthy: true, problems: [] });
  assert.equal(assessStatus({ ...fine, health: { mdns: { backend: 'native', up: false } } }).problems.length, 1);
  assert.equal(assessStatus({ ...fine, health: { ...fine.health, dnstap: { connected: false, connections: 0, frames: 0 } } }).healthy, false);
  // A stateDir the learner cannot write: unhealthy, naming the file and the reason.
  const unwritable = { dir: '/var/lib/x', writable: false, failures: [{ file: 'learned.json', error: '/var/lib/x is on a read-only file system (EROFS)', at: 1 }] };
  const stateProblems = assessStatus({ ...fine, health: { ...fine.health, state: unwritable } }).problems;
  assert.deepEqual(stateProblems, ['state: learned.json: /var/lib/x is on a read-only file system (EROFS) (learned addresses and runtime additions are not saved)']);
  assert.equal(assessStatus({ ...fine, health: { ...fine.health, state: { dir: '/var/lib/x', writable: true, failures: [] } } }).healthy, true);
  // Exactly 3× the refresh is still fine; the alert rule uses ">" too.
  const edge = { ...fine, lists: [{ ...fine.lists[0]!, ageSeconds: 3 * 3600 }] };
  assert.equal(assessStatus(edge).healthy, true);
});

test('formatAge', () => {
  assert.deepEqual([42, 300, 3600, 3 * 3600 + 20 * 60, 2 * 86_400 + 4 * 3600].map(formatAge), ['42s', '5m', '1h', '3h 20m', '2d 4h']);
});

test('recent errors: bounded, newest first, fed by a pino hook with the capability as source', () => {
  const ring = createRecentErrors(3, () => 1000);
  const lines: string[] = [];
  const logger = pino({ level: 'info', hooks: { logMethod: ring.logMethodHook() } }, { write: (s: string) => void lines.push(s) });
  logger.info('not recorded');
  logger.child({ capability: 'blocklist' }).error({ err: new Error('HTTP 502') }, 'blocklist: download failed');
  logger.warn('w1');
  logger.warn({ list: 'x' }, 'w2');
  logger.error(new Error('bare error'));
  assert.equal(lines.length, 5, 'every line is still logged');
  const got = ring.list();
  assert.deepEqual(
    got.map((e) => e.message),
    ['bare error', 'w2', 'w1'],
  );
  assert.equal(got[0]?.level, 'error');
  ring.push({ at: 1, level: 'warn', source: 's', message: 'x'.repeat(2000) });
  assert.ok((ring.list()[0]?.message.length ?? 0) <= 500);
  const r2 = createRecentErrors(5);
  pino({ hooks: { logMethod: r2.logMethodHook() } }, { write: () => undefined })
    .child({ capability: 'blocklist' })
    .error({ err: 'HTTP 502' }, 'download failed');
  assert.deepEqual([r2.list()[0]?.source, r2.list()[0]?.message], ['blocklist', 'download failed: HTTP 502']);
});

test('/readyz: one line per check in order, "ok NAME: detail" or "FAIL NAME: detail"; 503 while any is not ready', async () => {
  let mdnsUp = false;
  const readiness: HttpServerOptions['readiness'] = [
    { name: 'dns', check: () => ({ kind: 'ready', detail: 'listening on 127.0.0.1:5335' }) },
    { name: 'mdns', check: () => (mdnsUp ? { kind: 'ready', detail: 'avahi up' } : { kind: 'not-ready', detail: 'avahi down (answers are SERVFAIL until it returns)' }) },
  ];
  await withServer({ readiness }, async (base) => {
    const down = await fetch(`${base}/readyz`);
    assert.equal(down.status, 503);
    assert.equal(await down.text(), 'ok dns: listening on 127.0.0.1:5335\nFAIL mdns: avahi down (answers are SERVFAIL until it returns)\n');
    mdnsUp = true;
    const up = await fetch(`${base}/readyz`);
    assert.equal(up.status, 200);
    assert.equal(await up.text(), 'ok dns: listening on 127.0.0.1:5335\nok mdns: avahi up\n');
  });
});
