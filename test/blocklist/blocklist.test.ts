import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createBlocklist, listConfigSchema, type ListModel } from '../../src/blocklist/index.js';
import { snapshotPath } from '../../src/blocklist/snapshot.js';
import { createFetcher } from '../../src/lib/fetch/index.js';
import { containsAddress, rangeSetsEqual, rangeTexts } from '../../src/lib/ip-prefix/index.js';
import { gzipBomb, serveBody, startFixtureServer, type FixtureServer } from '../helpers/fixture-http-server.js';

let srv: FixtureServer;
let stateDir: string;
const fetcher = createFetcher({ retryMinDelayMs: 10, retryMaxDelayMs: 20, maxRetries: 2, random: () => 0.5 });

before(async () => {
  srv = await startFixtureServer();
  stateDir = await mkdtemp(join(tmpdir(), 'blocklist-test-'));
});
after(async () => {
  await fetcher.close();
  await srv.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** 20 public /24s: 5.0.0.0/24, 5.0.2.0/24, … (every other one, so nothing merges). */
const twenty = Array.from({ length: 20 }, (_, i) => `5.0.${i * 2}.0/24`);

function setup(name: string, sources: { path: string; contains?: 'ips' | 'domains'; timeoutMs?: number; maxBytes?: number }[], extra: Record<string, unknown> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as Record<string, unknown>), cb()) }));
  const config = listConfigSchema.parse({
    name,
    sources: sources.map((s) => ({
      url: srv.url(s.path),
      format: 'json',
      contains: s.contains ?? 'ips',
      ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}),
      ...(s.maxBytes ? { maxBytes: s.maxBytes } : {}),
    })),
    ...extra,
  });
  const registry = new Registry();
  const bl = createBlocklist({ lists: [config], stateDir, logger, registry, fetch: (r) => fetcher.fetch(r) });
  const published: ListModel[] = [];
  bl.onModel((m) => published.push(m));
  return { bl, lines, registry, published };
}

async function metric(registry: Registry, name: string): Promise<string> {
  return (await registry.getSingleMetricAsString(name))
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

test('success: ips + domains sources become one model; one log line per source with samples; metrics', async () => {
  srv.route('/ok/ips', serveBody(JSON.stringify([...twenty, '10.1.1.1', 'junk', '2a0a:db8::/48'])));
  srv.route('/ok/dpi', serveBody(JSON.stringify([{ domains: ['Blocked.example', '31.0.113.5'] }])));
  const { bl, lines, registry, published } = setup('ok', [{ path: '/ok/ips' }, { path: '/ok/dpi', contains: 'domains' }]);
  const [r] = await bl.refresh();
  assert.equal(r?.outcome, 'updated');
  assert.deepEqual(r?.entries, { ipv4: 21, ipv6: 1 });
  assert.deepEqual(
    r?.sources.map((s) => [s.outcome, s.fetched, s.parsed, s.rejected]),
    [
      ['updated', 23, 21, { bogon: 1, 'not-an-address': 1 }],
      ['updated', 2, 2, {}],
    ],
  );
  const m = bl.current('ok');
  assert.ok(m && containsAddress(m.ipv4, '31.0.113.5') && containsAddress(m.ipv4, '5.0.38.255'), 'model has both sources');
  assert.deepEqual(m.domains, ['blocked.example']);
  assert.equal(published.length, 1);
  const read = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('read http'));
  assert.equal(read.length, 2);
  assert.deepEqual(read[0]?.samples, { bogon: '10.1.1.1', 'not-an-address': 'junk' });
  assert.match(await metric(registry, 'unbound_sidecar_list_entries'), /list="ok",family="ipv4"} 21/);
  assert.match(await metric(registry, 'unbound_sidecar_list_rejected_entries_total'), /reason="bogon"} 1/);
  assert.match(await metric(registry, 'unbound_sidecar_list_last_success_timestamp_seconds'), /list="ok"} \d{10}/);
  for (const name of (await registry.getMetricsAsJSON()).map((x) => x.name)) {
    assert.match(name, /^unbound_sidecar_list_[a-z_]+$/, name);
  }
});

test('ETag: the second refresh is a 304 and nothing is republished', async () => {
  srv.route('/etag', serveBody(JSON.stringify(twenty), { etag: '"v1"' }));
  const { bl, published } = setup('etag', [{ path: '/etag' }]);
  assert.equal((await bl.refresh('etag'))[0]?.outcome, 'updated');
  const [r] = await bl.refresh('etag');
  assert.equal(r?.outcome, 'unchanged');
  assert.equal(r?.sources[0]?.outcome, 'not-modified');
  assert.equal(published.length, 1);
  await assert.rejects(bl.refresh('nope'), /LIST_UNKNOWN|no list named "nope"/);
});

test('guard: truncated JSON, HTTP 500, a hang, a gzip bomb, a shrink to 2 → kept-last-good, model unchanged', async () => {
  let mode = 'good';
  const bomb = gzipBomb();
  srv.route('/guard', (req, res, hit) => {
    if (mode === 'good') return serveBody(JSON.stringify(twenty))(req, res, hit);
    if (mode === 'truncated') return void res.writeHead(200).end(JSON.stringify(twenty).slice(0, 150));
    if (mode === '500') return void res.writeHead(500).end('internal error');
    if (mode === 'hang') return undefined;
    if (mode === 'bomb') return serveBody(bomb.body, { headers: bomb.headers })(req, res, hit);
    return serveBody(JSON.stringify(twenty.slice(0, 2)))(req, res, hit);
  });
  const { bl, registry, published } = setup('guard', [{ path: '/guard', timeoutMs: 400, maxBytes: 1024 * 1024 }]);
  assert.equal((await bl.refresh('guard'))[0]?.outcome, 'updated');
  const good = bl.current('guard');
  assert.ok(good);
  const expect: [string, string][] = [
    ['truncated', 'parse'],
    ['500', 'http-status'],
    ['hang', 'timeout'],
    ['bomb', 'too-large'],
    ['shrunk', 'below-min-ratio'],
  ];
  for (const [m, reason] of expect) {
    mode = m;
    const t0 = Date.now();
    const [r] = await bl.refresh('guard');
    assert.equal(r?.outcome, 'kept-last-good', m);
    assert.equal(r?.sources[0]?.reason, reason, m);
    assert.equal(bl.current('guard'), good, `${m}: model unchanged`);
    assert.deepEqual(r?.entries, { ipv4: 20, ipv6: 0 }, m);
    assert.ok(Date.now() - t0 < 3_000, `${m}: bounded time`);
  }
  assert.equal(published.length, 1);
  const failures = await metric(registry, 'unbound_sidecar_list_fetch_failures_total');
  for (const [, reason] of expect) assert.match(failures, new RegExp(`reason="${reason}"} 1`), reason);
  mode = 'good';
  assert.equal((await bl.refresh('guard'))[0]?.outcome, 'unchanged');
});

test('one failing source keeps its own last good entries; the other still updates', async () => {
  let bDown = false;
  let aEntries = ['7.0.0.1'];
  srv.route('/two/a', (req, res, hit) => serveBody(JSON.stringify(aEntries))(req, res, hit));
  srv.route('/two/b', (req, res, hit) => (bDown ? void res.writeHead(503).end() : serveBody(JSON.stringify(['8.0.0.0/24']))(req, res, hit)));
  const { bl } = setup('two', [{ path: '/two/a' }, { path: '/two/b' }]);
  await bl.refresh('two');
  bDown = true;
  aEntries = ['7.0.0.1', '7.0.0.2'];
  const [r] = await bl.refresh('two');
  assert.equal(r?.outcome, 'updated');
  assert.deepEqual(
    r?.sources.map((s) => s.outcome),
    ['updated', 'kept-last-good'],
  );
  assert.deepEqual(rangeTexts(bl.current('two')?.ipv4 ?? { family: 'ipv4', size: 0, data: new Uint32Array() }), ['7.0.0.1-7.0.0.2', '8.0.0.0/24']);
});

test('retries: a source failing twice then answering is taken on the third attempt', async () => {
  srv.route('/retry', (req, res, hit) => (hit <= 2 ? void res.writeHead(502).end() : serveBody(JSON.stringify(twenty))(req, res, hit)));
  const { bl } = setup('retry', [{ path: '/retry' }]);
  const [r] = await bl.refresh('retry');
  assert.equal(r?.outcome, 'updated');
  assert.equal(srv.hits('/retry'), 3);
});

test('snapshot: written atomically, restored by a fresh instance with the registry unreachable', async () => {
  srv.route('/snap', serveBody(JSON.stringify([...twenty, '2a0a:db8:1::/48']), { etag: '"s1"' }));
  const first = setup('snap', [{ path: '/snap' }], { exclude: ['5.0.0.7'] });
  await first.bl.refresh();
  const file = snapshotPath(stateDir, 'snap');
  assert.deepEqual(
    (await readdir(join(stateDir, 'lists'))).filter((f) => f.startsWith('snap')),
    ['snap.snapshot'],
    'no temp file left',
  );
  srv.route('/snap', (_req, res) => res.socket?.destroy()); // unreachable from now on
  const second = setup('snap', [{ path: '/snap' }], { exclude: ['5.0.0.7'] });
  const [restored] = await second.bl.loadSnapshots();
  const before = first.bl.current('snap');
  assert.ok(restored && before, 'restored');
  assert.ok(rangeSetsEqual(restored.ipv4, before.ipv4) && rangeSetsEqual(restored.ipv6, before.ipv6), 'same model');
  assert.equal(restored.updatedAt, before.updatedAt);
  assert.deepEqual(second.published, [restored]);
  const [r] = await second.bl.refresh();
  assert.equal(r?.outcome, 'kept-last-good');
  assert.equal(second.bl.current('snap'), restored);
  assert.ok((await readFile(file)).length > 20 * 8);
});

test('a corrupt snapshot is ignored with a clear message', async () => {
  srv.route('/corrupt', serveBody(JSON.stringify(twenty)));
  const a = setup('corrupt', [{ path: '/corrupt' }]);
  await a.bl.refresh();
  const file = snapshotPath(stateDir, 'corrupt');
  const bytes = await readFile(file);
  bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 0xff;
  await writeFile(file, bytes);
  const b = setup('corrupt', [{ path: '/corrupt' }]);
  assert.deepEqual(await b.bl.loadSnapshots(), []);
  const warn = b.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('ignoring snapshot'));
  assert.ok(warn, 'warned');
  assert.match(String(warn.msg), /checksum mismatch/);
  assert.match(String(warn.msg), new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(await metric(b.registry, 'unbound_sidecar_list_snapshot_errors_total'), /op="read"} 1/);
  await writeFile(file, 'garbage');
  assert.deepEqual(await b.bl.loadSnapshots(), []);
  // The next good download replaces it.
  assert.equal((await b.bl.refresh())[0]?.outcome, 'updated');
  const c = setup('corrupt', [{ path: '/corrupt' }]);
  assert.equal((await c.bl.loadSnapshots()).length, 1);
});

test('start() refreshes soon after start, stop() ends timers and in-flight work', async () => {
  srv.route('/timer', serveBody(JSON.stringify(twenty)));
  const { bl, published } = setup('timer', [{ path: '/timer' }]);
  const got = new Promise<ListModel>((resolve) => bl.onModel(resolve));
  bl.start();
  const m = await got;
  assert.equal(m.list, 'timer');
  await bl.stop();
  assert.equal(published.length, 1);
});

test('the fetch seam: a fake fetcher, and one that throws costs only its source', async () => {
  let calls = 0;
  const registry = new Registry();
  const config = listConfigSchema.parse({ name: 'seam', sources: [{ url: 'https://example.test/ips', format: 'lines', contains: 'ips' }] });
  const bl = createBlocklist({
    lists: [config],
    stateDir,
    logger: pino({ level: 'silent' }),
    registry,
    fetch: async () => {
      if (++calls > 1) throw new Error('boom');
      return { kind: 'updated', body: Buffer.from('31.0.2.1\n31.0.2.2\n'), status: 200, attempts: 1, wireBytes: 20 };
    },
  });
  assert.equal((await bl.refresh())[0]?.outcome, 'updated');
  const [r] = await bl.refresh();
  assert.deepEqual([r?.outcome, r?.sources[0]?.reason, r?.entries.ipv4], ['kept-last-good', 'network', 1]);
});

test('the same body again (no validators from the server): its data is kept without parsing it again; a change of body or guard parses', async () => {
  let body = JSON.stringify([...twenty, '10.1.1.1']);
  srv.route('/same', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  const { bl, registry, published } = setup('same', [{ path: '/same' }]);
  const [first] = await bl.refresh('same');
  assert.deepEqual(
    first?.sources.map((s) => [s.outcome, s.fetched, s.sameBody]),
    [['updated', 21, undefined]],
  );
  const [again] = await bl.refresh('same');
  assert.equal(again?.outcome, 'unchanged');
  assert.deepEqual(
    again?.sources.map((s) => [s.outcome, s.fetched, s.parsed, s.sameBody]),
    [['updated', undefined, 20, true]],
  );
  assert.match(await metric(registry, 'unbound_sidecar_list_rejected_entries_total'), /reason="bogon"} 1$/m, 'not counted twice: not parsed again');
  assert.equal(published.length, 1);
  // A fresh process (same snapshot) recognises it too.
  const fresh = setup('same', [{ path: '/same' }]);
  await fresh.bl.loadSnapshots();
  assert.equal((await fresh.bl.refresh('same'))[0]?.sources[0]?.sameBody, true);
  body = JSON.stringify([...twenty.slice(1), '10.1.1.1']);
  const [changed] = await bl.refresh('same');
  assert.deepEqual(
    changed?.sources.map((s) => [s.outcome, s.fetched, s.sameBody]),
    [['updated', 20, undefined]],
  );
  assert.equal(bl.current('same')?.ipv4.size, 19);
  // The guard is part of what the data depends on: another exclude parses the same body again.
  const excluding = setup('same', [{ path: '/same' }], { exclude: ['5.0.2.0/24'] });
  await excluding.bl.loadSnapshots();
  const [ex] = await excluding.bl.refresh('same');
  assert.equal(ex?.sources[0]?.sameBody, undefined);
  assert.equal(excluding.bl.current('same')?.ipv4.size, 18);
});
