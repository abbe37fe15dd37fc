/**
 * set-sync against real nftables in a throw-away namespace (the `netns` option is how every test
 * reaches it, so applying inside a named namespace is exercised throughout). Coverage is compared as ranges read back from the
 * kernel, never as text. Needs root: skipped outside CI without it, failed in CI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { isSidecarError } from '../../src/errors.js';
import { emptyRangeSet, rangeSetsEqual, RangeSetBuilder, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import { createNetlinkBackend } from '../../src/lib/nft/netlink/netlink-backend.js';
import { createNftBackend, type NftBackend } from '../../src/lib/nft/nft-backend.js';
import { createSetSync, type SetSync, type SetTarget } from '../../src/set-sync/index.js';
import { coverageOf, exactFromElements } from '../../src/set-sync/readback.js';
import type { CostModel } from '../../src/set-sync/set-plan.js';
import { churn, model } from '../helpers/range-model.js';
import { stalledSend } from '../helpers/stalled-send.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const logger = pino({ level: process.env.SET_SYNC_TEST_LOG ?? 'silent' });
/** Forces the exact difference whatever nft 1.0.6 would cost (the mode under test). */
const ALWAYS_DIFF: CostModel = { diffSeconds: () => 0, fullSeconds: () => 1 };
const skip = labSkip({ binaries: { nft: 'nftables' } });

let ns: NftNetns;
let tableNo = 0;

async function kernelCoverage(t: SetTarget, set: string, family: 'ipv4' | 'ipv6'): Promise<RangeSet> {
  const l = await createNftBackend().listSet({ family: t.family, table: t.table, set }, t.netns);
  assert.equal(l.kind, 'ok');
  if (l.kind !== 'ok') throw new Error('unreachable');
  const exact = exactFromElements(family, l.set.elements);
  assert.ok(exact, 'kernel elements are well-formed and do not overlap');
  return coverageOf(exact);
}

async function assertExact(t: SetTarget, m: { ipv4: RangeSet; ipv6: RangeSet }): Promise<void> {
  assert.ok(rangeSetsEqual(await kernelCoverage(t, t.set4!, 'ipv4'), m.ipv4), 'IPv4 coverage equals the model');
  assert.ok(rangeSetsEqual(await kernelCoverage(t, t.set6!, 'ipv6'), m.ipv6), 'IPv6 coverage equals the model');
}

async function freshTable(createSets = false): Promise<SetTarget> {
  const table = `t${++tableNo}`;
  if (!createSets) {
    await ns.nft(['-f', '-'], `table inet ${table} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`);
  }
  return { list: 'vpn', family: 'inet', table, set4: 'v4', set6: 'v6', netns: ns.name, createSets };
}

/** A fresh table and a started set-sync (following the namespace's changes) for `body`; stopped after it. */
async function withStartedSync(body: (t: SetTarget, sync: SetSync, registry: Registry) => Promise<void>): Promise<void> {
  const t = await freshTable();
  const registry = new Registry();
  const sync = createSetSync({ logger, registry });
  await sync.start();
  try {
    await body(t, sync, registry);
  } finally {
    await sync.stop();
  }
}

const m0 = { ipv4: model('ipv4', 2000, 1), ipv6: model('ipv6', 1000, 2) };
const m1 = { ipv4: churn('ipv4', 2000, 0.01, 1), ipv6: churn('ipv6', 1000, 0.01, 2) };

describe('set-sync on real nftables', { skip }, () => {
  before(() => {
    ns = createNftNetns();
  });
  after(() => ns?.teardown());

  test('first load, then a 1% churn: exact coverage (cost-chosen mode, then forced diff)', async () => {
    for (const costs of [undefined, ALWAYS_DIFF]) {
      const t = await freshTable();
      const sync = createSetSync({ logger, registry: new Registry(), ...(costs ? { costs } : {}) });
      const first = await sync.apply(t, m0);
      // Into empty sets: one flush + add when it fits the bound and the costs favour it, else chunked adds.
      assert.deepEqual(
        first.map((r) => r.mode),
        costs ? ['diff', 'diff'] : ['full', 'full'],
      );
      await assertExact(t, m0);
      const second = await sync.apply(t, m1);
      if (costs)
        assert.deepEqual(
          second.map((r) => r.mode),
          ['diff', 'diff'],
        );
      await assertExact(t, m1);
      assert.deepEqual(
        (await sync.apply(t, m1)).map((r) => r.mode),
        ['noop', 'noop'],
      );
      assert.equal(sync.status()[0]?.elements, m1.ipv4.size);
    }
  });

  test('a change that extends an interval is applied as remove + add in one transaction', async () => {
    const t = await freshTable();
    const sync = createSetSync({ logger, registry: new Registry(), costs: ALWAYS_DIFF });
    const a = { ipv4: new RangeSetBuilder('ipv4').addRange('11.0.0.0', '11.0.0.10').addAddress('12.0.0.1').build(), ipv6: emptyRangeSet('ipv6') };
    const b = { ipv4: new RangeSetBuilder('ipv4').addRange('11.0.0.0', '11.0.0.20').addAddress('12.0.0.1').build(), ipv6: emptyRangeSet('ipv6') };
    await sync.apply(t, a);
    const [r4] = await sync.apply(t, b);
    assert.deepEqual({ mode: r4?.mode, added: r4?.added, removed: r4?.removed, unchanged: r4?.unchanged }, { mode: 'diff', added: 1, removed: 1, unchanged: 1 });
    await assertExact(t, b);
  });

  test('chunked apply: many transactions, exact result', async () => {
    const t = await freshTable();
    const real = createNftBackend();
    let transactions = 0;
    const counting: NftBackend = { ...real, apply: (c, n) => (transactions++, real.apply(c, n)) };
    await createSetSync({ logger, registry: new Registry() }).apply(t, m0);
    // A second instance reads m0 back, then writes the difference 7 ranges at a time.
    const sync = createSetSync({ logger, registry: new Registry(), backend: counting, costs: ALWAYS_DIFF, maxTransactionPrefixes: 7 });
    const reports = await sync.apply(t, m1);
    const ops = reports.reduce((n, r) => n + r.added + r.removed, 0);
    assert.ok(transactions >= Math.floor(ops / 7) - 2 && transactions > 2, `${transactions} transactions for ${ops} operations`);
    await assertExact(t, m1);
  });

  test('nft flush set, and a reload (flush ruleset + re-create), are refilled within 2 s', () =>
    withStartedSync(async (t, sync, registry) => {
      await sync.apply(t, m0);
      await new Promise((r) => setTimeout(r, 300)); // let our own echo pass
      const t0 = Date.now();
      await ns.nft(['flush', 'set', 'inet', t.table, 'v4']);
      await waitFor('v4 refilled after flush set', async () => rangeSetsEqual(await kernelCoverage(t, 'v4', 'ipv4'), m0.ipv4), { timeoutMs: 2000, intervalMs: 50 });
      const flushMs = Date.now() - t0;
      const t1 = Date.now();
      // What `systemctl reload nftables` does: one file, flush ruleset, then the tables again.
      await ns.nft(['-f', '-'], `flush ruleset\ntable inet ${t.table} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`);
      await waitFor('both sets refilled after reload', async () => rangeSetsEqual(await kernelCoverage(t, 'v4', 'ipv4'), m0.ipv4) && rangeSetsEqual(await kernelCoverage(t, 'v6', 'ipv6'), m0.ipv6), {
        timeoutMs: 2000,
        intervalMs: 50,
      });
      const reloadMs = Date.now() - t1;
      const refills = (await registry.getSingleMetric('unbound_sidecar_set_sync_refills_total')?.get())?.values ?? [];
      assert.ok(
        refills.some((v) => v.labels.reason === 'flushed'),
        JSON.stringify(refills),
      );
      assert.ok(
        refills.some((v) => v.labels.reason === 'recreated'),
        JSON.stringify(refills),
      );
      logger.info({ flushMs, reloadMs }, 'refill times');
    }));

  test('a reload 0–200 ms after our own apply is never missed (30 rounds, each set back within 2 s)', () =>
    withStartedSync(async (t, sync) => {
      // Big enough that our own echo is a burst (25k element notifications a full load): following
      // `nft -j monitor`, 7 of 20 rounds missed the reload at this size, one of them for good.
      const mA = { ipv4: model('ipv4', 10_000, 11), ipv6: model('ipv6', 2_500, 12) };
      const mB = { ipv4: churn('ipv4', 10_000, 0.01, 11), ipv6: churn('ipv6', 2_500, 0.01, 12) };
      const ruleset = `flush ruleset\ntable inet ${t.table} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`;
      const missed: string[] = [];
      await sync.apply(t, mA);
      for (let round = 0; round < 30; round++) {
        // A changed model every round, as after a registry download; the reload lands 0–200 ms after it starts.
        const m = round % 2 === 0 ? mB : mA;
        const delayMs = (round * 41) % 201;
        const applying = sync.apply(t, m).catch((err: unknown) => err);
        await new Promise((r) => setTimeout(r, delayMs));
        await ns.nft(['-f', '-'], ruleset);
        await applying;
        const equal = async () => rangeSetsEqual(await kernelCoverage(t, 'v4', 'ipv4'), m.ipv4) && rangeSetsEqual(await kernelCoverage(t, 'v6', 'ipv6'), m.ipv6);
        const back = await waitFor(`round ${round}`, equal, { timeoutMs: 2000, intervalMs: 50 }).then(
          () => true,
          () => false,
        );
        if (!back) missed.push(`round ${round} (reload ${delayMs} ms after the apply)`);
      }
      assert.deepEqual(missed, [], 'sets left unequal to the model for more than 2 s after a reload');
    }));

  test('events lost to a foreign change bigger than the receive buffer: the sets are refilled; our memory stays bounded', () =>
    withStartedSync(async (t, sync, registry) => {
      await sync.apply(t, m0);
      await ns.nft(['add', 'set', 'inet', t.table, 'big', '{ type ipv4_addr; }']);
      // 300k foreign notifications (~40 MB queued) first, then the flush of our set: its events are the ones dropped.
      const elems = Array.from({ length: 150_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(', ');
      let peak = process.memoryUsage().rss;
      const rss0 = peak;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      try {
        await ns.nft(['-f', '-'], `add element inet ${t.table} big { ${elems} }\nflush set inet ${t.table} big\nflush set inet ${t.table} v4\n`);
        await waitFor('v4 refilled after lost events', async () => rangeSetsEqual(await kernelCoverage(t, 'v4', 'ipv4'), m0.ipv4), { timeoutMs: 2000, intervalMs: 50 });
      } finally {
        clearInterval(sampler);
      }
      const refills = (await registry.getSingleMetric('unbound_sidecar_set_sync_refills_total')?.get())?.values ?? [];
      assert.ok(
        refills.some((v) => v.labels.reason === 'lost'),
        JSON.stringify(refills),
      );
      const grewMiB = (peak - rss0) / 2 ** 20;
      logger.info({ grewMiB }, 'RSS during a 300k-notification foreign change');
      assert.ok(grewMiB < 48, `RSS grew ${grewMiB.toFixed(1)} MiB`);
    }));

  test('a transaction past its deadline is counted, the sets read back and repaired, and later writes proceed', async () => {
    const t = await freshTable();
    const registry = new Registry();
    const stall = stalledSend(700);
    const backend = createNetlinkBackend({ deadlineMs: 150, sendAsync: stall.send });
    const sync = createSetSync({ logger, registry, backend });
    const t0 = performance.now();
    await sync.apply(t, m0);
    const ms = performance.now() - t0;
    await assertExact(t, m0);
    const timeouts = (await registry.getSingleMetric('unbound_sidecar_set_sync_nft_timeouts_total')?.get())?.values ?? [];
    assert.equal(timeouts[0]?.value, 1, 'counted');
    assert.ok(ms < 650, `repaired on a fresh socket before the stuck request returned (${ms.toFixed(0)} ms)`);
    await sync.apply(t, m1);
    await assertExact(t, m1);
    await stall.settled();
  });

  test('missing set: a clear NFT_SET_MISSING; createSets creates table and sets with the right type and flags', async () => {
    await ns.nft(['add', 'table', 'inet', 'only_table']);
    const missing: SetTarget = { list: 'vpn', family: 'inet', table: 'only_table', set4: 'force_vpn4', netns: ns.name, createSets: false };
    await assert.rejects(sync0().apply(missing, m0), (err: unknown) => {
      assert.ok(isSidecarError(err, 'NFT_SET_MISSING'));
      assert.match(err.message, /^set-sync: table inet only_table in netns \S+ has no set force_vpn4; create it \(type ipv4_addr; flags interval\) or set "createSets": true$/);
      return true;
    });
    await assert.rejects(sync0().apply({ ...missing, table: 'no_table' }, m0), /table inet no_table does not exist/);
    const t = await freshTable(true);
    await sync0().apply(t, m0);
    await assertExact(t, m0);
    const text = await ns.nft(['-t', 'list', 'set', 'inet', t.table, 'v4']);
    assert.match(text, /type ipv4_addr/);
    assert.match(text, /flags interval/);
    assert.doesNotMatch(text, /auto-merge/);
  });

  test('the sets live in the namespace, not in ours', async () => {
    const t = await freshTable();
    await sync0().apply(t, m0);
    const here = await new Promise<number | null>((resolve) => spawn('nft', ['list', 'table', 'inet', t.table], { stdio: 'ignore' }).on('close', resolve));
    assert.notEqual(here, 0);
  });

  test('kill -9 during a chunked sync: the kernel holds a consistent mix; a fresh instance converges', async () => {
    const t = await freshTable();
    const big = { ipv4: model('ipv4', 20_000, 5), ipv6: model('ipv6', 5_000, 6) };
    const next = { ipv4: churn('ipv4', 20_000, 0.3, 5), ipv6: churn('ipv6', 5_000, 0.3, 6) };
    await sync0().apply(t, big);
    // Compiled (npm test runs dist/) or under tsx: run the child the same way this file runs.
    const ts = import.meta.url.endsWith('.ts');
    const script = new URL(`./set-sync-child.${ts ? 'ts' : 'js'}`, import.meta.url).pathname;
    const child = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), script, JSON.stringify(t)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let chunks = 0;
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        chunks += d.split('\n').filter((l) => l === 'chunk').length;
        if (chunks >= 3 && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => resolve());
    });
    assert.ok(chunks >= 3, 'the child was killed in the middle of its chunks');
    await new Promise((r) => setTimeout(r, 500)); // an nft it had started finishes (or fails) on its own
    // Consistent: everything in both models covered, nothing outside either.
    const cov = await kernelCoverage(t, 'v4', 'ipv4');
    assertBetween(cov, big.ipv4, next.ipv4);
    await sync0().apply(t, next);
    await assertExact(t, next);
  });
});

function sync0() {
  return createSetSync({ logger, registry: new Registry() });
}

/** intersection(a, b) ⊆ cov ⊆ union(a, b), checked on sample addresses of every range's ends. */
function assertBetween(cov: RangeSet, a: RangeSet, b: RangeSet): void {
  const union = new RangeSetBuilder('ipv4').addSet(a).addSet(b).build();
  const inBoth = (x: number) => has(a, x) && has(b, x);
  for (const s of [a, b]) {
    for (let i = 0; i < s.size; i++) {
      for (const x of [s.data[2 * i]!, s.data[2 * i + 1]!]) {
        if (inBoth(x)) assert.ok(has(cov, x), `address ${x} is in both models but not covered`);
      }
    }
  }
  for (let i = 0; i < cov.size; i++) assert.ok(has(union, cov.data[2 * i]!) && has(union, cov.data[2 * i + 1]!), 'covered address outside both models');
}

function has(s: RangeSet, x: number): boolean {
  let lo = 0;
  let hi = s.size - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (s.data[2 * mid]! > x) hi = mid - 1;
    else if (s.data[2 * mid + 1]! < x) lo = mid + 1;
    else return true;
  }
  return false;
}
