import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createFetcher } from '../../../src/lib/fetch/index.js';
import { gzipBomb, serveBody, startFixtureServer, type FixtureServer } from '../../helpers/fixture-http-server.js';

let srv: FixtureServer;
const fetcher = createFetcher({ retryMinDelayMs: 10, retryMaxDelayMs: 50, random: () => 0.5, timeoutMs: 5_000 });

before(async () => {
  srv = await startFixtureServer();
});
after(async () => {
  await fetcher.close();
  await srv.close();
});

test('200 with gzip or br is decoded; ETag and Last-Modified come back; a matching ETag gets 304', async () => {
  const body = JSON.stringify(['192.0.2.1', '198.51.100.0/24']);
  srv.route('/gz', serveBody(gzipSync(body), { etag: '"v1"', headers: { 'content-encoding': 'gzip', 'last-modified': 'Tue, 01 Jul 2025 00:00:00 GMT' } }));
  srv.route('/br', serveBody(brotliCompressSync(body), { headers: { 'content-encoding': 'br' } }));
  const a = await fetcher.fetch({ url: srv.url('/gz') });
  assert.equal(a.kind, 'updated');
  assert.ok(a.kind === 'updated');
  assert.equal(a.body.toString(), body);
  assert.equal(a.etag, '"v1"');
  assert.equal(a.lastModified, 'Tue, 01 Jul 2025 00:00:00 GMT');
  const b = await fetcher.fetch({ url: srv.url('/br') });
  assert.ok(b.kind === 'updated' && b.body.toString() === body, 'br decoded');
  assert.deepEqual(await fetcher.fetch({ url: srv.url('/gz'), etag: '"v1"' }), { kind: 'not-modified', attempts: 1 });
});

test('5xx is retried with backoff, then succeeds; 404 is not retried', async () => {
  srv.route('/flaky', (req, res, hit) => (hit <= 2 ? res.writeHead(503).end('busy') : serveBody('["192.0.2.1"]')(req, res, hit)));
  const r = await fetcher.fetch({ url: srv.url('/flaky') });
  assert.equal(r.kind, 'updated');
  assert.equal(r.attempts, 3);
  assert.equal(srv.hits('/flaky'), 3);
  srv.route('/gone', (_req, res) => res.writeHead(404).end());
  const g = await fetcher.fetch({ url: srv.url('/gone') });
  assert.deepEqual([g.kind, g.kind === 'failed' && g.reason, srv.hits('/gone')], ['failed', 'http-status', 1]);
});

test('500 forever ends as http-status after maxRetries', async () => {
  srv.route('/down', (_req, res) => res.writeHead(500).end('oops'));
  const r = await fetcher.fetch({ url: srv.url('/down') });
  assert.ok(r.kind === 'failed', 'failed');
  assert.equal(r.reason, 'http-status');
  assert.equal(r.status, 500);
  assert.equal(srv.hits('/down'), 4); // 1 + maxRetries(3)
});

test('a server that hangs ends as timeout within the deadline', async () => {
  srv.route('/hang', () => undefined);
  const t0 = Date.now();
  const r = await fetcher.fetch({ url: srv.url('/hang'), timeoutMs: 300 });
  assert.ok(r.kind === 'failed' && r.reason === 'timeout', JSON.stringify(r));
  assert.ok(Date.now() - t0 < 2_000, 'bounded');
  // Headers sent, body stalls: the same deadline covers the body.
  srv.route('/stall', (_req, res) => {
    res.writeHead(200);
    res.write('["192.0.2.1",');
  });
  const s = await fetcher.fetch({ url: srv.url('/stall'), timeoutMs: 300 });
  assert.ok(s.kind === 'failed' && s.reason === 'timeout', JSON.stringify(s));
});

test('a gzip bomb (~2.5 KB on the wire, 1 GiB decoded) is stopped at the decoded limit', async () => {
  const bomb = gzipBomb();
  assert.ok(bomb.body.length < 20_000, `bomb is ${bomb.body.length} bytes`);
  srv.route('/bomb', serveBody(bomb.body, { headers: bomb.headers }));
  const rss0 = process.memoryUsage().rss;
  const t0 = Date.now();
  const r = await fetcher.fetch({ url: srv.url('/bomb'), maxBytes: 8 * 1024 * 1024 });
  assert.ok(r.kind === 'failed' && r.reason === 'too-large', JSON.stringify(r));
  assert.ok(Date.now() - t0 < 2_000, 'stopped early, not after inflating 1 GiB');
  assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024, 'did not keep it all');
  // Plain body with a Content-Length over the limit is refused before reading.
  srv.route('/big', serveBody(Buffer.alloc(2048)));
  const b = await fetcher.fetch({ url: srv.url('/big'), maxBytes: 1024 });
  assert.ok(b.kind === 'failed' && b.reason === 'too-large', JSON.stringify(b));
});

test('corrupt or unknown encodings are decode failures', async () => {
  srv.route('/corrupt', serveBody('definitely not gzip', { headers: { 'content-encoding': 'gzip' } }));
  srv.route('/zstd', serveBody('x', { headers: { 'content-encoding': 'compress' } }));
  for (const p of ['/corrupt', '/zstd']) {
    const r = await fetcher.fetch({ url: srv.url(p) });
    assert.ok(r.kind === 'failed' && r.reason === 'decode', `${p}: ${JSON.stringify(r)}`);
  }
});

test('redirects are followed up to the limit', async () => {
  srv.route('/moved', (_req, res) => res.writeHead(302, { location: '/gz' }).end());
  const ok = await fetcher.fetch({ url: srv.url('/moved') });
  assert.equal(ok.kind, 'updated');
  // A chain longer than maxRedirects (5), and a loop undici detects itself.
  for (let i = 0; i < 8; i++) srv.route(`/hop${i}`, (_req, res) => res.writeHead(302, { location: `/hop${i + 1}` }).end());
  srv.route('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
  for (const p of ['/hop0', '/loop']) {
    const r = await fetcher.fetch({ url: srv.url(p) });
    assert.ok(r.kind === 'failed' && r.reason === 'redirect', `${p}: ${JSON.stringify(r)}`);
  }
});

test('connection refused is a network failure; a caller abort is aborted', async () => {
  const f = createFetcher({ maxRetries: 1, retryMinDelayMs: 5, random: () => 0 });
  try {
    const r = await f.fetch({ url: 'http://127.0.0.1:1/' });
    assert.ok(r.kind === 'failed' && r.reason === 'network' && r.attempts === 2, JSON.stringify(r));
    srv.route('/slow', () => undefined);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const a = await f.fetch({ url: srv.url('/slow'), signal: ac.signal });
    assert.ok(a.kind === 'failed' && a.reason === 'aborted', JSON.stringify(a));
  } finally {
    await f.close();
  }
});
