/**
 * What must never happen to a routing set, end to end: the built daemon, a registry of two sources
 * (IPs + domains) on a loopback fixture server, real nftables sets in a throwaway namespace.
 * - A round whose IP source fails leaves the set as it is.
 * - A start without a usable snapshot, with the IP source failing and the domains source fine,
 *   leaves the set untouched: not emptied, not replaced by the domains source's two addresses.
 * - A missing table makes /readyz 503 with the set's error; creating it makes it 200 again.
 * The namespace also holds a private system bus and a real avahi-daemon (on one end of a veth pair inside it, so
 * nothing leaves it): with the mDNS backend up, /readyz depends on the lists alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveBody, startFixtureServer, type FixtureServer } from '../helpers/fixture-http-server.js';
import { AvahiDaemon } from '../lab/avahi.js';
import { startBus } from '../lab/dbus.js';
import { NetnsHost } from '../lab/netns.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';
import { startListDaemon, type ListDaemon } from './list-daemon.js';

const TABLE = 'table inet global {\n set force_vpn4 { type ipv4_addr; flags interval; }\n set force_vpn6 { type ipv6_addr; flags interval; }\n}\n';
/** 3000 separate /30s (3000 set elements) and one IPv6 prefix: the IP source. */
const IPS = [...Array.from({ length: 3000 }, (_, i) => `31.${i >> 10}.${(i >> 2) & 255}.${(i & 3) * 64}/30`), '2a00:1450::/32'];
/** The domains source lists two sites by address too. */
const DOMAINS = ['blocked.example', '45.1.1.1', '45.1.1.3'];

let ns: NftNetns;
let server: FixtureServer;
let dir: string;
let configFile: string;
let daemon: ListDaemon | undefined;
let mdnsHost: NetnsHost | undefined;

interface Status {
  lists: Array<{ outcome?: string; lastSyncAt?: number; lastError?: string; sets: Array<{ set: string; lastError?: string }> }>;
  assessment: { healthy: boolean; problems: string[] };
}

async function status(): Promise<Status> {
  return (await (await fetch(`${daemon?.http}/api/status`)).json()) as Status;
}

async function readyz(): Promise<{ code: number; body: string }> {
  const r = await fetch(`${daemon?.http}/readyz`);
  return { code: r.status, body: await r.text() };
}

/** The set's elements as nft prints them (ranges and prefixes), sorted. */
async function elements(set: 'force_vpn4' | 'force_vpn6'): Promise<string[]> {
  const out = await ns.nft(['-j', 'list', 'set', 'inet', 'global', set]);
  const doc = JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  const elem = doc.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elem.map((e) => JSON.stringify(e)).sort();
}

const ipRoute = (handler: 'good' | 'down') => server.route('/ips', handler === 'good' ? serveBody(JSON.stringify(IPS)) : (_req, res) => void res.writeHead(500).end('down'));

/** Start and wait for the first scheduled refresh (~2 s after start) to have run. */
async function startAndRefresh(): Promise<Status> {
  daemon = await startListDaemon(configFile, mdnsHost?.bus ?? '');
  return waitFor(
    'the first refresh',
    async () => {
      const s = await status();
      return s.lists[0]?.outcome !== undefined ? s : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

describe('list guards (the whole daemon, real nft in a namespace)', {
  skip: labSkip({ sidecar: true, binaries: { nft: 'nftables', 'avahi-daemon': 'avahi-daemon', 'dbus-daemon': 'dbus' } }),
  timeout: 400_000,
}, () => {
  before(async () => {
    ns = createNftNetns();
    await ns.nft(['-f', '-'], TABLE);
    dir = mkdtempSync(join(tmpdir(), 'us-list-guards-'));
    chmodSync(dir, 0o755); // avahi-daemon drops to its own user and reads its config from here
    for (const cmd of [
      ['link', 'add', 'mdns0', 'type', 'veth', 'peer', 'name', 'mdns1'],
      ['link', 'set', 'mdns1', 'up'],
      ['link', 'set', 'mdns0', 'up'],
      ['addr', 'add', '10.123.0.1/24', 'dev', 'mdns0'],
    ]) {
      const r = await ns.host.exec(['ip', ...cmd]);
      assert.equal(r.code, 0, r.stderr);
    }
    mdnsHost = new NetnsHost(ns.name, 'router', 'mdns0', '10.123.0.1', '', `unix:path=${join(dir, 'bus')}`, 'guards', dir);
    await startBus(mdnsHost, dir);
    await new AvahiDaemon(mdnsHost, dir).start();
    server = await startFixtureServer();
    ipRoute('good');
    server.route('/domains', serveBody(JSON.stringify(DOMAINS)));
    configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        dns: { listen: ['127.0.0.1:0'] },
        mdns: { backend: 'avahi' },
        metrics: { listen: '127.0.0.1:0' },
        stateDir: join(dir, 'state'),
        lists: [
          {
            name: 'vpn',
            refresh: '1h',
            sources: [
              { url: server.url('/ips'), format: 'json', contains: 'ips', timeoutMs: 30_000 },
              { url: server.url('/domains'), format: 'json', contains: 'domains', timeoutMs: 30_000 },
            ],
            nft: { family: 'inet', table: 'global', set4: 'force_vpn4', set6: 'force_vpn6', netns: ns.name },
          },
        ],
      }),
    );
  });
  after(async () => {
    await daemon?.stop();
    await server?.close();
    await mdnsHost?.stopAll(1000);
    await ns?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  let full: string[] = [];

  test('a good round fills the set; a round with the IP source at 500 leaves it unchanged', async () => {
    const s = await startAndRefresh();
    assert.equal(s.lists[0]?.outcome, 'updated', JSON.stringify(s));
    await waitFor('the set to be filled', async () => ((await elements('force_vpn4')).length === 3002 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    full = await elements('force_vpn4');
    const before = s.lists[0]?.lastSyncAt ?? 0;
    ipRoute('down');
    daemon?.signal('SIGHUP');
    const round = await waitFor(
      'the round with the IP source down',
      async () => {
        const l = (await status()).lists[0];
        return l && (l.lastSyncAt ?? 0) > before ? l : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    assert.equal(round.outcome, 'kept-last-good', JSON.stringify(round));
    assert.match(daemon?.log() ?? '', /\/ips not taken \((http-status|timeout)\); keeping its last good data/);
    assert.deepEqual(await elements('force_vpn4'), full);
    assert.equal((await readyz()).code, 200);
  });

  test('a missing table: /readyz 503 naming the set, status unhealthy; re-created → 200 within a few seconds', async () => {
    await daemon?.stop();
    await ns.nft(['delete', 'table', 'inet', 'global']);
    ipRoute('good');
    daemon = await startListDaemon(configFile, mdnsHost?.bus ?? ''); // the snapshot is applied at start and fails
    const r = await readyz();
    assert.equal(r.code, 503, r.body);
    assert.match(r.body, /FAIL lists: set inet global force_vpn4 \(netns [^)]+\) not applied: .*/);
    const s = await status();
    assert.equal(s.assessment.healthy, false);
    assert.ok(
      s.assessment.problems.some((p) => p.startsWith('set inet global force_vpn4')),
      JSON.stringify(s.assessment),
    );
    const t0 = Date.now();
    await ns.nft(['-f', '-'], TABLE);
    await waitFor('/readyz 200', async () => ((await readyz()).code === 200 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    const ms = Date.now() - t0;
    assert.deepEqual(await elements('force_vpn4'), full, 'filled from the snapshot');
    process.stdout.write(`# table re-created → /readyz 200 after ${ms} ms\n`);
  });

  test('a damaged snapshot, then none usable: IP source failing, domains fine → the set is left untouched', async () => {
    await daemon?.stop();
    const snap = join(dir, 'state', 'lists', 'vpn.snapshot');
    const bytes = readFileSync(snap);
    writeFileSync(snap, bytes.subarray(0, bytes.length - 100)); // cut short, as by a full disk
    ipRoute('down');
    const first = await startAndRefresh();
    assert.match(daemon?.log() ?? '', /ignoring snapshot .*vpn\.snapshot: checksum mismatch \(truncated or damaged\)/);
    assert.equal(first.lists[0]?.outcome, 'partial', JSON.stringify(first.lists[0]));
    assert.match(first.lists[0]?.lastError ?? '', /incomplete: no good data yet from http:\/\/127\.0\.0\.1:\d+\/ips; the sets are left as they are/);
    assert.equal(first.assessment.healthy, false);
    assert.deepEqual(await elements('force_vpn4'), full, 'not emptied, not the 2 domain addresses');

    // That round's snapshot has only the domains source: restored alone it would be the 2 addresses.
    await daemon?.stop();
    const second = await startAndRefresh();
    assert.match(daemon?.log() ?? '', /has no data for http:\/\/127\.0\.0\.1:\d+\/ips; not restoring an incomplete list/);
    assert.equal(second.lists[0]?.outcome, 'partial');
    assert.deepEqual(await elements('force_vpn4'), full);
    assert.ok((await elements('force_vpn6')).length === 1);

    // The IP source answers again: the whole list, from both sources.
    ipRoute('good');
    daemon?.signal('SIGHUP');
    await waitFor('a complete round', async () => ((await status()).lists[0]?.outcome === 'updated' ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 });
    await waitFor('the set to hold the whole list', async () => (JSON.stringify(await elements('force_vpn4')) === JSON.stringify(full) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal((await readyz()).code, 200);
    assert.equal((await status()).assessment.healthy, true);
  });
});
