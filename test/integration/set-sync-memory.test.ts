/**
 * set-sync and the kernel's memory, on real nftables in a throw-away namespace with a netlink
 * listener present (an `nft monitor`, and set-sync's own monitor where a refill needs it): while a
 * transaction commits, nf_tables_setelem_notify() holds one notification skb per element (an
 * interval is two) until nft_commit_notify() frees them (net/netfilter/nf_tables_api.c) — ~17 KB of
 * unreclaimable slab per range. Without a listener nothing is allocated, so every test has one.
 *
 * Each test asserts twice: on the transactions sent (a counting wrapper around the real backend
 * sizes every one of them: added and deleted ranges, and what a flush removes) and on SUnreclaim,
 * sampled every 2 ms while each of them runs (test/helpers/kernel-memory.ts). SUnreclaim is machine-wide and other work
 * runs beside the tests, hence a margin and one repeat before a measurement is believed.
 * Needs root: skipped outside CI without it, failed in CI.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { RangeSet } from '../../src/lib/ip-prefix/index.js';
import { createDefaultNftBackend } from '../../src/lib/nft/netlink/netlink-backend.js';
import type { NftBackend } from '../../src/lib/nft/nft-backend.js';
import { ElementCommand, RangeElements, type NftCommand, type SetRef } from '../../src/lib/nft/nft-json.js';
import { createSetSync, DEFAULT_MAX_TRANSACTION_PREFIXES, type SetTarget } from '../../src/set-sync/index.js';
import { startNftListener, withKernelMemory } from '../helpers/kernel-memory.js';
import { setsEqualModel, testTables } from '../helpers/nft-tables.js';
import { churn, model } from '../helpers/range-model.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const logger = pino({ level: process.env.SET_SYNC_TEST_LOG ?? 'silent' });
const skip = labSkip({ binaries: { nft: 'nftables' } });
const BOUND = DEFAULT_MAX_TRANSACTION_PREFIXES;
/** Measured on Linux 6.18 (bench/set-sync.bench.ts): 16.7 KiB per range in one transaction. */
const KB_PER_RANGE = 17.1;
/** Other tests share the machine (and its SUnreclaim): room for their noise. */
const MARGIN_MB = 80;
const LIMIT_MB = (BOUND * KB_PER_RANGE) / 1000 + MARGIN_MB;
const N = 100_000;
const m0 = { ipv4: model('ipv4', 70_000, 31), ipv6: model('ipv6', 30_000, 32) };

let ns: NftNetns;
let listener: { stop(): Promise<void> } | undefined;

/** One transaction as sent: its range operations and the SUnreclaim rise while it ran. */
interface Sent {
  ops: number;
  riseMB: number;
}

/**
 * The real backend, sizing every transaction it sends (added and deleted ranges, and what a flush
 * removes) and sampling SUnreclaim while it runs. Per transaction, not over the whole load: the
 * bound is per transaction, and a short window catches less of the other work on the machine.
 * (Listing is left out: that is the backend's reader, measured on its own in the bench.)
 */
function counting(real: NftBackend): { backend: NftBackend; sent: Sent[] } {
  const sent: Sent[] = [];
  const backend: NftBackend = {
    ...real,
    async apply(commands, netns) {
      const list: NftCommand[] = [...commands];
      let ops = 0;
      for (const c of list) {
        if (c instanceof ElementCommand) ops += c.elements instanceof RangeElements ? c.elements.set.size : [...c.elements].length;
        else if (typeof c === 'string' && c.startsWith('{"flush"')) {
          const ref = (JSON.parse(c) as { flush: { set: { family: SetRef['family']; table: string; name: string } } }).flush.set;
          const l = await real.listSet({ family: ref.family, table: ref.table, set: ref.name }, netns);
          if (l.kind === 'ok') ops += l.set.elements.length;
        }
      }
      const { kernel } = await withKernelMemory(() => real.apply(list, netns));
      sent.push({ ops, riseMB: kernel.peakRiseMB });
    },
  };
  return { backend, sent };
}

const tables = testTables(() => ns, 'm');
const freshTable = (): Promise<SetTarget> => tables.fresh();

async function assertExact(t: SetTarget, m: { ipv4: RangeSet; ipv6: RangeSet }): Promise<void> {
  assert.ok(await setsEqualModel(t, m), 'the sets are well-formed and equal the model');
}

function assertBounded(t: TestContext, what: string, sent: readonly Sent[]): void {
  const ops = sent.map((x) => x.ops);
  const worst = Math.max(0, ...sent.map((x) => x.riseMB));
  t.diagnostic(
    `${what}: ${sent.length} transactions, largest ${Math.max(0, ...ops)} ranges; SUnreclaim rose by ${worst.toFixed(1)} MB at most during one (limit ${LIMIT_MB.toFixed(0)}); ranges:MB ${sent.map((x) => `${x.ops}:${x.riseMB.toFixed(0)}`).join(' ')}`,
  );
  assert.ok(
    ops.every((n) => n <= BOUND),
    `${what}: a transaction over the bound: ${JSON.stringify(ops.filter((n) => n > BOUND))}`,
  );
  assert.ok(
    worst <= LIMIT_MB,
    `${what}: SUnreclaim rose by ${worst.toFixed(0)} MB during one transaction (limit ${LIMIT_MB.toFixed(0)} MB): ${sent.map((x) => `${x.ops}:${x.riseMB.toFixed(0)}`).join(' ')}`,
  );
}

/**
 * Runs `work` up to 3 times: a rise over the limit is believed only when every run shows it (other
 * tests' and benches' nftables loads beside this one move the machine-wide figure by hundreds of
 * MB, often). A transaction over the bound is believed at once: that count has no noise.
 */
async function measured(setup: () => Promise<() => Promise<Sent[]>>): Promise<Sent[]> {
  let best: Sent[] | undefined;
  const worst = (s: readonly Sent[]): number => Math.max(0, ...s.map((x) => x.riseMB));
  for (let attempt = 0; attempt < 3; attempt++) {
    const work = await setup();
    const sent = await work();
    if (!best || worst(sent) < worst(best)) best = sent;
    if (worst(sent) <= LIMIT_MB || sent.some((x) => x.ops > BOUND)) return sent;
  }
  return best!;
}

describe('set-sync: kernel memory of nftables transactions', { skip }, () => {
  before(async () => {
    ns = createNftNetns();
    listener = await startNftListener(ns.host);
  });
  afterEach(async () => {
    await tables.cleanup();
  });
  after(async () => {
    await listener?.stop();
    await ns?.teardown();
  });

  test(`a ${N / 1000}k-range first load into empty sets stays within the bound, and the sets equal the model`, async (t) => {
    let target: SetTarget | undefined;
    const r = await measured(async () => {
      target = await freshTable();
      const c = counting(createDefaultNftBackend());
      const sync = createSetSync({ logger, registry: new Registry(), backend: c.backend });
      return async () => {
        await sync.apply(target!, m0);
        return c.sent;
      };
    });
    assertBounded(t, 'first load', r);
    assert.ok(r.length >= Math.ceil(N / BOUND), 'the load took several transactions');
    await assertExact(target!, m0);
  });

  test('a restart against an already filled 100k set (a first load into a non-empty set): read back, bounded diff, exact', async (t) => {
    const m1 = { ipv4: churn('ipv4', 70_000, 0.01, 31), ipv6: churn('ipv6', 30_000, 0.01, 32) };
    let target: SetTarget | undefined;
    let modes: string[] = [];
    const r = await measured(async () => {
      target = await freshTable();
      await createSetSync({ logger, registry: new Registry() }).apply(target, m0); // the previous run of the daemon
      const c = counting(createDefaultNftBackend());
      const sync = createSetSync({ logger, registry: new Registry(), backend: c.backend });
      return async () => {
        modes = (await sync.apply(target!, m1)).map((x) => x.mode);
        return c.sent;
      };
    });
    assertBounded(t, 'restart into a filled set', r);
    assert.deepEqual(modes, ['diff', 'diff']);
    await assertExact(target!, m1);
  });

  test('a refill of a 100k set after an nftables reload (flush ruleset + re-create) stays within the bound and ends exact', async (t) => {
    let target: SetTarget | undefined;
    const syncs: { stop(): Promise<void> }[] = [];
    try {
      const r = await measured(async () => {
        target = await freshTable();
        // Filled by an earlier instance, so the one under test starts with nothing to write (its
        // monitor sees no echo of a 100k load; see the README on the monitor's limits).
        await createSetSync({ logger, registry: new Registry() }).apply(target, m0);
        const c = counting(createDefaultNftBackend());
        const sync = createSetSync({ logger, registry: new Registry(), backend: c.backend });
        syncs.push(sync);
        await sync.start();
        await sync.apply(target, m0); // read back: nothing to write
        // The monitor is up once it has seen a foreign element and set-sync has taken it out again
        // (nft -j monitor subscribes only after its start-up; a reload before that is never seen).
        await ns.nft(['add', 'element', 'inet', target.table, 'v4', '{ 9.9.9.9 }']);
        await waitFor('the monitor saw a foreign element', async () => !(await ns.nft(['list', 'set', 'inet', target!.table, 'v4'])).includes('9.9.9.9'), { timeoutMs: 30_000, intervalMs: 500 });
        await new Promise((res) => setTimeout(res, 500));
        c.sent.length = 0;
        return async () => {
          await ns.nft(['-f', '-'], `flush ruleset\ntable inet ${target!.table} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`);
          await waitFor('the refill wrote the whole model back', () => c.sent.reduce((a, b) => a + b.ops, 0) >= N, { timeoutMs: 30_000, intervalMs: 20 });
          return c.sent;
        };
      });
      assertBounded(t, 'refill after a reload', r);
      await assertExact(target!, m0);
    } finally {
      for (const s of syncs) await s.stop();
    }
  });
});
