/**
 * A list is the union of all its sources: while one of them has no good data at all (it failed and
 * never delivered, not even into the snapshot), the union of the others must not replace the sets.
 * The download seam is a table of canned outcomes per URL, so each round is exact.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createBlocklist, listConfigSchema, type ListModel } from '../../src/blocklist/index.js';
import { snapshotPath } from '../../src/blocklist/snapshot.js';
import type { FetchOutcome } from '../../src/lib/fetch/index.js';
import { containsAddress } from '../../src/lib/ip-prefix/index.js';

const IPS = 'https://registry.test/ips';
const DOMAINS = 'https://registry.test/domains';
/** 400 public /30s in 31.0.0.0/16, none adjacent (the registry's IP endpoint, in small): 400 set elements. */
const ipBody = JSON.stringify(Array.from({ length: 400 }, (_, i) => `31.0.${i >> 5}.${(i & 31) * 8}/30`));
/** The domains endpoint: two names and the two literal addresses it also lists. */
const domainBody = JSON.stringify(['blocked.example', 'other.example', '45.1.1.1', '45.1.1.3']);

let stateDir: string;
before(async () => (stateDir = await mkdtemp(join(tmpdir(), 'list-complete-'))));
after(() => rm(stateDir, { recursive: true, force: true }));

type Canned = FetchOutcome | 'down';
const ok = (body: string, etag?: string): Canned => ({ kind: 'updated', body: Buffer.from(body), status: 200, attempts: 1, wireBytes: body.length, ...(etag ? { etag } : {}) });
const NOT_MODIFIED: Canned = { kind: 'not-modified', attempts: 1 };

function setup(name: string, order: readonly string[] = [IPS, DOMAINS], extra: Record<string, unknown> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as Record<string, unknown>), cb()) }));
  const answers = new Map<string, Canned>();
  const config = listConfigSchema.parse({ name, sources: order.map((url) => ({ url, format: 'json', contains: url === IPS ? 'ips' : 'domains' })), ...extra });
  const registry = new Registry();
  const bl = createBlocklist({
    lists: [config],
    stateDir,
    logger,
    registry,
    fetch: async (req) => {
      const a = answers.get(req.url) ?? 'down';
      return a === 'down' ? { kind: 'failed', reason: 'http-status', error: 'HTTP 500', status: 500, attempts: 4 } : a;
    },
  });
  const published: ListModel[] = [];
  bl.onModel((m) => published.push(m));
  const serve = (ips: Canned, domains: Canned) => (answers.set(IPS, ips), answers.set(DOMAINS, domains));
  const metric = async (n: string) =>
    (await registry.getSingleMetricAsString(n))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  return { bl, lines, published, serve, metric };
}

test('no snapshot, IP source failing, domains source fine → partial: nothing published, said in status, metrics and log (both source orders)', async () => {
  for (const order of [
    [IPS, DOMAINS],
    [DOMAINS, IPS],
  ]) {
    const name = `fresh-${order[0] === IPS ? 'ips-first' : 'domains-first'}`;
    const { bl, lines, published, serve, metric } = setup(name, order);
    serve('down', ok(domainBody));
    const [r] = await bl.refresh();
    assert.equal(r?.outcome, 'partial', name);
    assert.deepEqual(r?.missing, [IPS], name);
    assert.equal(published.length, 0, `${name}: the 2 domain-source addresses are not a list`);
    assert.equal(bl.current(name), undefined);
    const st = bl.status()[0];
    assert.equal(st?.outcome, 'partial');
    assert.match(st?.lastError ?? '', /incomplete: no good data yet from https:\/\/registry\.test\/ips; the sets are left as they are/);
    assert.match(await metric('unbound_sidecar_list_refreshes_total'), new RegExp(`list="${name}",outcome="partial"} 1`));
    assert.match(await metric('unbound_sidecar_list_sources_without_data'), new RegExp(`list="${name}"} 1`));
    assert.ok(
      lines.some((l) => l.level === 40 && /incomplete/.test(String(l.msg))),
      'warned',
    );

    // Both down: the domains source keeps its data, the IP source still has none: still partial.
    serve('down', 'down');
    assert.equal((await bl.refresh())[0]?.outcome, 'partial');
    assert.equal(published.length, 0);
    // Then both answer: the whole list, once.
    serve(ok(ipBody, '"i1"'), ok(domainBody));
    const [full] = await bl.refresh();
    assert.equal(full?.outcome, 'updated');
    assert.deepEqual(full?.missing, []);
    assert.equal(published.length, 1);
    const m = published[0];
    assert.ok(m && containsAddress(m.ipv4, '31.0.6.57') && containsAddress(m.ipv4, '45.1.1.3'), 'both sources in the model');
    assert.match(await metric('unbound_sidecar_list_sources_without_data'), new RegExp(`list="${name}"} 0`));

    // From now on a failing IP source keeps its last good data: complete, unchanged.
    serve('down', ok(domainBody));
    const [kept] = await bl.refresh();
    assert.deepEqual([kept?.outcome, kept?.missing, kept?.entries.ipv4], ['kept-last-good', [], m.ipv4.size]);
    // A 304 is good data (its last download): with a changed domains source the list updates.
    serve(NOT_MODIFIED, ok(JSON.stringify(['blocked.example', '45.1.1.9'])));
    assert.equal((await bl.refresh())[0]?.outcome, 'updated');
    const m2 = bl.current(name);
    assert.ok(m2 && containsAddress(m2.ipv4, '31.0.6.57') && containsAddress(m2.ipv4, '45.1.1.9') && !containsAddress(m2.ipv4, '45.1.1.1'));
    assert.equal(published.length, 2);
  }
});

test('a damaged snapshot counts as none: clear log, then the incomplete round is not applied; a partial snapshot is not restored', async () => {
  const a = setup('damaged', [IPS, DOMAINS]);
  a.serve(ok(ipBody), ok(domainBody));
  await a.bl.refresh();
  const file = snapshotPath(stateDir, 'damaged');
  const bytes = await readFile(file);
  await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2))); // a crash or a full disk cut it short
  const b = setup('damaged', [IPS, DOMAINS]);
  assert.deepEqual(await b.bl.loadSnapshots(), []);
  const warn = b.lines.find((l) => /ignoring snapshot/.test(String(l.msg)));
  assert.match(String(warn?.msg), /checksum mismatch \(truncated or damaged\)/);
  b.serve('down', ok(domainBody));
  assert.equal((await b.bl.refresh())[0]?.outcome, 'partial');
  assert.equal(b.published.length, 0);
  // That round wrote the domains source's data; restored alone it would be the 2-address list again.
  const c = setup('damaged', [IPS, DOMAINS]);
  assert.deepEqual(await c.bl.loadSnapshots(), []);
  assert.equal(c.published.length, 0);
  assert.ok(c.lines.some((l) => /has no data for https:\/\/registry\.test\/ips; not restoring an incomplete list/.test(String(l.msg))));
  // …but the domains data it holds joins the union as soon as the IP source answers, even while the domains source is down.
  c.serve(ok(ipBody), 'down');
  const [r] = await c.bl.refresh();
  assert.equal(r?.outcome, 'updated');
  const m = c.bl.current('damaged');
  assert.ok(m && containsAddress(m.ipv4, '31.0.0.1') && containsAddress(m.ipv4, '45.1.1.1'));
});

test('every source down from the start: failed, nothing published', async () => {
  const { bl, published, serve } = setup('all-down');
  serve('down', 'down');
  const [r] = await bl.refresh();
  assert.deepEqual([r?.outcome, r?.missing, published.length], ['failed', [IPS, DOMAINS], 0]);
  assert.match(bl.status()[0]?.lastError ?? '', /incomplete: no good data yet from .*ips, .*domains; the sets are left as they are/);
});

test('over the cap: refused with the count, the cap and the key; the last good model stays', async () => {
  const { bl, published, serve } = setup('capped', [IPS, DOMAINS], { maxEntries: 500, maxDomains: 5 });
  serve(ok(ipBody), ok(domainBody));
  assert.equal((await bl.refresh())[0]?.outcome, 'updated');
  const good = bl.current('capped');
  // 498 addresses + the 2 the domains source holds = the cap; one more is over.
  serve(ok(JSON.stringify(Array.from({ length: 499 }, (_, i) => `31.1.${i >> 5}.${(i & 31) * 8}/30`))), NOT_MODIFIED);
  const [r] = await bl.refresh();
  assert.equal(r?.outcome, 'kept-last-good');
  assert.equal(r?.sources[0]?.reason, 'too-many-entries');
  assert.equal(
    r?.sources[0]?.error,
    'more than 498 address entries beside the 2 the list\'s other sources hold: over the list\'s cap of 500 (raise "maxEntries" of list "capped" if it really is that large); parsing stopped, the last good data stays',
  );
  assert.equal(bl.current('capped'), good);
  serve(NOT_MODIFIED, ok(JSON.stringify(['a.example', 'b.example', 'c.example', 'd.example', 'e.example', 'f.example'])));
  const [d] = await bl.refresh();
  assert.deepEqual([d?.outcome, d?.sources[1]?.reason], ['kept-last-good', 'too-many-entries']);
  assert.match(d?.sources[1]?.error ?? '', /more than 5 domains: over the list's cap of 5 \(raise "maxDomains"/);
  assert.equal(published.length, 1);
});
