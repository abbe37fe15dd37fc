/**
 * One owner of nftables state: however many lists and learned sets write into a namespace, the
 * daemon holds ONE nf_tables subscription there (a NETLINK_NETFILTER socket joined to
 * NFNLGRP_NFTABLES) — the list sets and the learned sets share one backend and its monitor.
 *
 * The daemon runs in this process (startDaemon), with two learning lists in one namespace and a
 * third in another; learned.json is seeded so the learner's restore writes learned elements in
 * both at start, and the lists' first download fills the list sets. The sockets are then counted
 * from /proc/net/netlink as each namespace shows it (read by `cat` run inside it, not through the
 * daemon's own helpers), and matched to this process through /proc/self/fd's socket inodes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { type Daemon, startDaemon } from '../../src/daemon.js';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-http-server.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const NETLINK_NETFILTER = 12;
const NFNLGRP_NFTABLES_BIT = 1 << (7 - 1);

/** This process's NETLINK_NETFILTER sockets in `ns`: [all, joined to the nf_tables group]. */
function ourNetfilterSockets(ns: string): { all: number; subscribed: number } {
  const ours = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1] !== undefined) ours.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const text = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netlink'], { encoding: 'utf8' });
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift()?.trim().split(/\s+/) ?? [];
  const [eth, groups, inode] = ['Eth', 'Groups', 'Inode'].map((c) => header.indexOf(c));
  assert.ok(eth !== undefined && groups !== undefined && inode !== undefined && eth >= 0 && groups >= 0 && inode >= 0, `unexpected /proc/net/netlink header: ${header.join(' ')}`);
  let all = 0;
  let subscribed = 0;
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (Number(f[eth]) !== NETLINK_NETFILTER || !ours.has(f[inode] ?? '')) continue;
    all++;
    if ((Number.parseInt(f[groups] ?? '0', 16) & NFNLGRP_NFTABLES_BIT) !== 0) subscribed++;
  }
  return { all, subscribed };
}

const nftHas = async (ns: NftNetns, table: string, set: string, addr: string): Promise<boolean> => (await ns.host.exec(['nft', 'get', 'element', 'inet', table, set, `{ ${addr} }`])).code === 0;

describe('one nf_tables subscription per namespace, however many lists and learned sets', { skip: labSkip({ binaries: { nft: 'nftables' } }), timeout: 120_000 }, () => {
  let ns1: NftNetns;
  let ns2: NftNetns;
  let server: FixtureServer;
  let dir: string;
  let daemon: Daemon | undefined;
  const savedBus = process.env.DBUS_SYSTEM_BUS_ADDRESS;

  before(async () => {
    ns1 = createNftNetns();
    ns2 = createNftNetns();
    server = await startFixtureServer();
    for (const l of ['a', 'b', 'c']) server.route(`/${l}`, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([`31.${l.charCodeAt(0) - 90}.0.0/16`])));
    dir = mkdtempSync(join(tmpdir(), 'us-onesub-'));
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir);
    const inAnHour = Math.ceil(Date.now() / 1000) + 3600;
    const rows = [
      ['a', '45.90.0.1', inAnHour, 'www.a.example'],
      ['b', '45.90.0.2', inAnHour, 'www.b.example'],
      ['c', '45.90.0.3', inAnHour, 'www.c.example'],
    ];
    writeFileSync(join(stateDir, 'learned.json'), JSON.stringify({ version: 1, entries: rows }));
    const list = (name: string, ns: NftNetns) => ({
      name,
      refresh: '1h',
      sources: [{ url: server.url(`/${name}`), format: 'json', contains: 'ips' }],
      nft: { family: 'inet', table: 'onesub', set4: `list_${name}`, netns: ns.name, createSets: true },
      learn: { set4: `learned_${name}` },
    });
    process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/us-onesub-bus';
    const config = parseConfig({
      dns: { listen: ['127.0.0.1:0'], zones: ['local.'] },
      metrics: { listen: '127.0.0.1:0' },
      mdns: { backend: 'avahi' },
      stateDir,
      lists: [list('a', ns1), list('b', ns1), list('c', ns2)],
      resolve: { enabled: false },
      admin: { socket: join(dir, 'admin.sock') },
    });
    daemon = await startDaemon(config, pino({ level: process.env.ONESUB_TEST_LOG ?? 'silent' }));
  });

  after(async () => {
    await daemon?.stop();
    await server?.close();
    await ns1?.teardown();
    await ns2?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (savedBus === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = savedBus;
  });

  test('three list sets and three learned sets written in two namespaces: one subscription in each', async () => {
    // Every set has been written: the learned elements restored from learned.json, the list sets filled by the first download.
    await waitFor(
      'every list and learned set written',
      async () =>
        (await nftHas(ns1, 'onesub', 'learned_a', '45.90.0.1')) &&
        (await nftHas(ns1, 'onesub', 'learned_b', '45.90.0.2')) &&
        (await nftHas(ns2, 'onesub', 'learned_c', '45.90.0.3')) &&
        (await nftHas(ns1, 'onesub', 'list_a', '31.7.1.1')) &&
        (await nftHas(ns1, 'onesub', 'list_b', '31.8.1.1')) &&
        (await nftHas(ns2, 'onesub', 'list_c', '31.9.1.1')),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // A bulk load may leave the group for a while (quiet-window.ts): wait until the subscriptions are back.
    const counts = await waitFor(
      'the subscriptions to be joined',
      () => {
        const c = [ourNetfilterSockets(ns1.name), ourNetfilterSockets(ns2.name)];
        return c.every((x) => x.subscribed > 0) ? c : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.deepEqual(
      counts.map((c) => c.subscribed),
      [1, 1],
      `subscriptions per namespace (all netfilter sockets: ${counts.map((c) => c.all).join(', ')})`,
    );
    // And a bounded number of sockets in all: the request socket, the reader's and the subscription.
    for (const c of counts) assert.ok(c.all <= 3, `at most 3 netfilter sockets in a namespace, saw ${c.all}`);
  });
});
