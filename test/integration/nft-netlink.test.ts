/**
 * The netlink NftBackend against the real kernel in a throw-away namespace: what it writes must be
 * exactly what `nft -j list set` reads back (interval boundaries, v4 and v6, top-of-space ends),
 * deletes and flushes exact, timeouts present, errors reported with errno and atomic, and the main
 * thread back in its own namespace after opening a socket in another. Needs root (lab rules).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { isSidecarError } from '../../src/errors.js';
import { rangeSetOf, rangeSetsEqual, type IpFamily, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import { createNetlinkBackend } from '../../src/lib/nft/netlink/netlink-backend.js';
import { currentNetns } from '../../src/lib/nft/netlink/nfnl-socket.js';
import { createNftBackend } from '../../src/lib/nft/nft-backend.js';
import { elementCommand, flushSetCommand, RangeElements, type SetRef } from '../../src/lib/nft/nft-json.js';
import { exactFromElements } from '../../src/set-sync/readback.js';
import { churn, model } from '../helpers/range-model.js';
import type { NftEvent } from '../../src/lib/nft/monitor.js';
import { stalledSend } from '../helpers/stalled-send.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const skip = labSkip({ binaries: { nft: 'nftables' } });
let ns: NftNetns;
const nl = createNetlinkBackend();
const r4: SetRef = { family: 'inet', table: 't', set: 'v4' };
const r6: SetRef = { family: 'inet', table: 't', set: 'v6' };
const l4: SetRef = { family: 'inet', table: 't', set: 'l4' };

async function kernel(ref: SetRef, family: IpFamily): Promise<RangeSet> {
  const l = await createNftBackend().listSet(ref, ns.name);
  assert.equal(l.kind, 'ok');
  if (l.kind !== 'ok') throw new Error('unreachable');
  const exact = exactFromElements(family, l.set.elements);
  assert.ok(exact, 'elements are well-formed and do not overlap');
  return exact;
}

const fill = (ref: SetRef, set: RangeSet) => nl.apply([flushSetCommand(ref), elementCommand('add', ref, new RangeElements(set))], ns.name);

describe('netlink NftBackend on a real kernel', { skip }, () => {
  before(async () => {
    ns = createNftNetns();
    await ns.nft(
      ['-f', '-'],
      'table inet t {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n set l4 { type ipv4_addr; flags timeout; }\n set l6 { type ipv6_addr; flags timeout; }\n}\n',
    );
  });
  after(() => ns?.teardown());

  test('boundary shapes read back exactly (v4 and v6: singles, prefixes, ranges, top and bottom of the space)', async () => {
    const v4 = rangeSetOf('ipv4', ['0.0.0.0', '1.2.3.4', '10.0.0.0/8', '20.0.0.1-20.0.0.9', '128.0.0.0/31', '255.255.255.0/25', '255.255.255.255']);
    const v6 = rangeSetOf('ipv6', [
      '::',
      '::2-::ffff',
      '2001:db8::/32',
      '2001:db9::1',
      'fe00::/9',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]);
    await fill(r4, v4);
    await fill(r6, v6);
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), v4));
    assert.ok(rangeSetsEqual(await kernel(r6, 'ipv6'), v6));
    // An end at the very top has no end element: the range is open to the maximum.
    const top = rangeSetOf('ipv6', ['8000::/1']);
    await fill(r6, top);
    assert.ok(rangeSetsEqual(await kernel(r6, 'ipv6'), top));
    const top4 = rangeSetOf('ipv4', ['255.0.0.0/8']);
    await fill(r4, top4);
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), top4));
  });

  test('a model, then its exact difference (deletes + adds), then a flush', async () => {
    const m0 = model('ipv4', 3000, 5);
    const m1 = churn('ipv4', 3000, 0.05, 5);
    await fill(r4, m0);
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), m0));
    const { diffRangeSets } = await import('../../src/lib/ip-prefix/index.js');
    const d = diffRangeSets(m0, m1);
    await nl.apply([elementCommand('delete', r4, new RangeElements(d.removed)), elementCommand('add', r4, new RangeElements(d.added))], ns.name);
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), m1), 'exactly the new model');
    const m6 = model('ipv6', 2000, 6);
    await fill(r6, m6);
    assert.ok(rangeSetsEqual(await kernel(r6, 'ipv6'), m6));
    await nl.apply([flushSetCommand(r4)], ns.name);
    assert.equal((await kernel(r4, 'ipv4')).size, 0);
  });

  test('learned elements carry their timeouts (nft shows expires); refresh = add + delete + add', async () => {
    await nl.apply([elementCommand('add', l4, ['{"elem":{"val":"192.0.2.1","timeout":300}}', '{"elem":{"val":"192.0.2.2","timeout":7200}}'])], ns.name);
    await nl.apply([elementCommand('add', l4, ['"192.0.2.1"']), elementCommand('delete', l4, ['"192.0.2.1"']), elementCommand('add', l4, ['{"elem":{"val":"192.0.2.1","timeout":900}}'])], ns.name);
    await nl.apply([`{"add":{"element":{"family":"inet","table":"t","name":"l6","elem":[{"elem":{"val":"2001:db8::1","timeout":600}}]}}}`], ns.name);
    const text = await ns.nft(['list', 'table', 'inet', 't']);
    assert.match(text, /192\.0\.2\.1 timeout 15m expires 1[45]m/);
    assert.match(text, /192\.0\.2\.2 timeout 2h expires 1h59m/);
    assert.match(text, /2001:db8::1 timeout 10m expires 9m/);
  });

  test('an error is reported with errno and the whole transaction is rolled back', async () => {
    const m = rangeSetOf('ipv4', ['198.51.100.0/24', '203.0.113.7']);
    await fill(r4, m);
    const missing = rangeSetOf('ipv4', ['9.9.9.9']);
    await assert.rejects(
      nl.apply([elementCommand('add', r4, new RangeElements(rangeSetOf('ipv4', ['7.7.7.7']))), elementCommand('delete', r4, new RangeElements(missing))], ns.name),
      (e: unknown) => isSidecarError(e, 'NFT_APPLY_FAILED') && /delete element inet t v4: ENOENT/.test(e.message),
    );
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), m), 'the add in the same batch was not applied');
    await assert.rejects(
      nl.apply([elementCommand('add', { family: 'inet', table: 't', set: 'nosuch' }, ['"1.1.1.1"'])], ns.name),
      (e: unknown) => isSidecarError(e, 'NFT_APPLY_FAILED') && /ENOENT/.test(e.message),
    );
    await assert.rejects(nl.apply([elementCommand('add', r4, ['"::1"'])], ns.name), (e: unknown) => isSidecarError(e, 'NFT_APPLY_FAILED') && /key is 4 bytes/.test(e.message));
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), m));
  });

  test('the socket lives in the namespace; every thread of this process stays in its own', async () => {
    const home = currentNetns();
    const threads = () => readdirSync('/proc/self/task').map((t) => readlinkSync(`/proc/self/task/${t}/ns/net`));
    assert.ok(threads().every((n) => n === home));
    const fresh = createNetlinkBackend(); // opens its socket in the namespace now
    await fresh.apply([flushSetCommand(r4), elementCommand('add', r4, ['"100.100.100.100"'])], ns.name);
    assert.equal(currentNetns(), home, 'main thread back in its namespace');
    assert.ok(
      threads().every((n) => n === home),
      'no thread (libuv pool, V8 helpers) left elsewhere',
    );
    const host = spawnSync('nft', ['list', 'table', 'inet', 't'], { encoding: 'utf8' });
    assert.ok(host.status !== 0 || !host.stdout.includes('100.100.100.100'), 'nothing written to the host namespace');
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), rangeSetOf('ipv4', ['100.100.100.100'])), 'written inside the namespace');
    // A big batch is sent from a threadpool thread: it still lands in the namespace of the socket.
    const big = model('ipv4', 20_000, 9);
    await fill(r4, big);
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), big));
    assert.ok(threads().every((n) => n === home));
  });

  test('monitor: every event says exactly whose it is (own socket vs nft), on one subscription for two monitors', async () => {
    const seenA: NftEvent[] = [];
    const seenB: NftEvent[] = [];
    const a = nl.monitor({ netns: ns.name, onEvent: (e) => seenA.push(e) });
    const b = nl.monitor({ netns: ns.name, onEvent: (e) => seenB.push(e) });
    try {
      await fill(r4, model('ipv4', 500, 21));
      await ns.nft(['add', 'element', 'inet', 't', 'v4', '{ 203.0.113.77 }']);
      await ns.nft(['flush', 'set', 'inet', 't', 'v4']);
      await nl.apply([elementCommand('add', r4, ['"198.51.100.1"'])], ns.name);
      await waitFor('all events', () => seenA.filter((e) => e.kind === 'element').reduce((n, e) => n + (e.kind === 'element' ? e.count : 0), 0) >= 1000 + 1000 + 2 + 1);
      const summary = (seen: NftEvent[]) =>
        seen
          .filter((e): e is Extract<NftEvent, { kind: 'element' }> => e.kind === 'element' && e.set === 'v4')
          .reduce<Record<string, number>>((acc, e) => ((acc[`${e.op} ${e.origin}`] = (acc[`${e.op} ${e.origin}`] ?? 0) + e.count), acc), {});
      // Our fill: flush of the previous contents (own deletes) + 500 ranges = 1000 boundaries; nft's add (2 boundaries) and flush (all of them) are foreign.
      const got = summary(seenA);
      assert.equal(got['add foreign'], 2, JSON.stringify(got));
      assert.equal(got['delete foreign'], 1002, JSON.stringify(got));
      assert.ok((got['add own'] ?? 0) >= 1001, JSON.stringify(got));
      assert.deepEqual(summary(seenB), got, 'the second monitor sees the same events');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test('monitor: a foreign transaction bigger than the receive buffer is reported lost (memory stays bounded)', async () => {
    const states: string[] = [];
    const h = nl.monitor({ netns: ns.name, onEvent: () => undefined, onState: (s) => states.push(s) });
    try {
      await ns.nft(['add', 'set', 'inet', 't', 'big', '{ type ipv4_addr; }']);
      const elems = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(', ');
      const rss0 = process.memoryUsage().rss;
      await ns.nft(['-f', '-'], `add element inet t big { ${elems} }\nflush set inet t big\n`);
      await waitFor('lost', () => states.includes('lost'), { timeoutMs: 3000 });
      const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
      assert.ok(grew < 32, `RSS grew ${grew.toFixed(1)} MiB for 200k foreign notifications`);
    } finally {
      await h.stop();
      await ns.nft(['delete', 'set', 'inet', 't', 'big']);
    }
  });

  test('a request past its deadline: NFT_TIMEOUT on time; the next apply proceeds on a fresh socket while the stuck one is still in the kernel', async () => {
    const stall = stalledSend(800);
    const slow = createNetlinkBackend({ deadlineMs: 150, sendAsync: stall.send });
    const before = rangeSetOf('ipv4', ['192.0.2.0/24']);
    await fill(r4, before);
    const t0 = performance.now();
    await assert.rejects(
      slow.apply([elementCommand('add', r4, ['"203.0.113.9"'])], ns.name),
      (e: unknown) => isSidecarError(e, 'NFT_TIMEOUT') && /^nft: netlink \(netns \S+\): .*within 150 ms; socket abandoned.*unknown until read back$/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 600, 'rejected at the deadline, not when the call returned');
    const next = rangeSetOf('ipv4', ['198.51.100.0/24']);
    await slow.apply([flushSetCommand(r4), elementCommand('add', r4, new RangeElements(next))], ns.name);
    assert.ok(performance.now() - t0 < 800, 'done before the stalled send even reached the kernel');
    assert.ok(rangeSetsEqual(await kernel(r4, 'ipv4'), next));
    await stall.settled();
  });
});
