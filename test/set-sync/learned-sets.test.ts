import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { SidecarError } from '../../src/errors.js';
import type { MonitorOptions } from '../../src/lib/nft/monitor.js';
import type { NftBackend, SetDescription } from '../../src/lib/nft/nft-backend.js';
import type { NftCommand } from '../../src/lib/nft/nft-json.js';
import { createLearnedSets } from '../../src/set-sync/learned-sets.js';

const logger = pino({ level: 'silent' });
const target = { family: 'inet' as const, table: 't', set4: 'l4', set6: 'l6', createSets: false };

/**
 * Records each transaction as its list of JSON commands; `missing` makes apply fail like nft does.
 * `listed` is what `listSet` returns; `events` is the monitor's `onEvent` once started.
 */
function fakeBackend(state: { missing: boolean; listed?: string[] }) {
  const txs: unknown[][] = [];
  const monitor: { onEvent?: MonitorOptions['onEvent']; stopped: boolean } = { stopped: false };
  const backend: NftBackend = {
    async apply(commands: Iterable<NftCommand>) {
      const cmds = [...commands].map((c) => JSON.parse(typeof c === 'string' ? c : [...c].join('')) as unknown);
      if (state.missing) throw new SidecarError('NFT_APPLY_FAILED', 'nft', 'No such file or directory');
      txs.push(cmds);
    },
    describeSet: async (): Promise<SetDescription> => (state.missing ? { kind: 'missing', what: 'set' } : { kind: 'ok', type: 'ipv4_addr', flags: ['timeout'], autoMerge: false }),
    listSet: async (ref) =>
      state.missing || state.listed === undefined
        ? { kind: 'missing', what: 'set' }
        : { kind: 'ok', set: { family: ref.family, table: ref.table, name: ref.set, type: 'ipv4_addr', flags: ['timeout'], elements: state.listed } },
    monitor: (o) => {
      monitor.onEvent = o.onEvent;
      o.onState?.('up');
      return { stop: async () => void (monitor.stopped = true) };
    },
  };
  return { backend, txs, monitor };
}

test('submissions within the batch window are one transaction; timeouts per element', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 5 });
  const r = await Promise.all([ls.submit(target, 'ipv4', '192.0.2.1', 300), ls.submit(target, 'ipv6', '2001:db8::1', 600), ls.submit({ ...target, set6: undefined }, 'ipv6', '2001:db8::2', 1)]);
  assert.deepEqual(
    r.map((x) => x.kind),
    ['applied', 'applied', 'no-set'],
  );
  assert.equal(txs.length, 1);
  assert.deepEqual(txs[0], [
    { add: { element: { family: 'inet', table: 't', name: 'l4', elem: [{ elem: { val: '192.0.2.1', timeout: 300 } }] } } },
    { add: { element: { family: 'inet', table: 't', name: 'l6', elem: [{ elem: { val: '2001:db8::1', timeout: 600 } }] } } },
  ]);
  await ls.stop();
});

test('a short TTL is not fresh in its last 10 s: the answer waits for the write instead of leaving with an address about to expire', async () => {
  const { backend } = fakeBackend({ missing: false });
  let now = 1_000_000;
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1, now: () => now });
  await ls.submit(target, 'ipv4', '192.0.2.5', 20);
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.5', 20), true, '20 s left');
  now += 11_000; // 9 s left: the old margin rule (30 s) still called it unchanged
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.5', 20), false);
  assert.deepEqual(await ls.submit(target, 'ipv4', '192.0.2.5', 20), { kind: 'applied', refreshed: true });
  await ls.stop();
});

test('refresh is add + delete + add in one transaction, only when it extends the expiry usefully', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  let now = 1_000_000;
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1, now: () => now });
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 300), false, 'not written yet');
  await ls.submit(target, 'ipv4', '192.0.2.1', 300);
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 300), true, 'fresh says synchronously what submit will answer');
  assert.equal(ls.fresh(target, 'ipv6', '192.0.2.1', 300), false);
  assert.deepEqual(await ls.submit(target, 'ipv4', '192.0.2.1', 300), { kind: 'unchanged' });
  now += 200_000; // 200 s later, 100 s left: a 300 s answer extends by 200 s
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 300), false, 'a useful extension is not fresh');
  assert.equal(ls.timeLeftMs(target, 'ipv4', '192.0.2.1'), 100_000);
  assert.equal(ls.timeLeftMs(target, 'ipv4', '192.0.2.2'), 0);
  assert.deepEqual(await ls.submit(target, 'ipv4', '192.0.2.1', 300), { kind: 'applied', refreshed: true });
  const ops = (txs[1] ?? []).map((c) => Object.keys(c as object)[0]);
  assert.deepEqual(ops, ['add', 'delete', 'add']);
  assert.deepEqual(txs[1]?.[2], { add: { element: { family: 'inet', table: 't', name: 'l4', elem: [{ elem: { val: '192.0.2.1', timeout: 300 } }] } } });
  assert.equal(ls.expiryOf(target, 'ipv4', '192.0.2.1'), now + 300_000);
  await ls.stop();
});

test('createSets declares the set with flags timeout (no interval) before the elements', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1 });
  await ls.submit({ ...target, createSets: true }, 'ipv4', '192.0.2.9', 60);
  assert.deepEqual(txs[0]?.[1], { add: { set: { family: 'inet', table: 't', name: 'l4', type: 'ipv4_addr', flags: ['timeout'] } } });
  await ls.stop();
});

test('a missing set holds its elements and retries until the set appears', async () => {
  const state = { missing: true };
  const { backend, txs } = fakeBackend(state);
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1 });
  const pending = ls.submit(target, 'ipv4', '192.0.2.7', 60);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(txs.length, 0);
  state.missing = false;
  assert.equal((await pending).kind, 'applied'); // retried after the ~1 s backoff
  assert.equal(txs.length, 1);
  await ls.stop();
});

test('replay: after a flush or a re-created set, what the kernel lost is written back with the timeout left; our own refresh deletes are not a flush', async () => {
  const state: { missing: boolean; listed?: string[] } = { missing: false };
  const { backend, txs, monitor } = fakeBackend(state);
  let now = 1_000_000;
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1, now: () => now });
  await Promise.all([ls.submit(target, 'ipv4', '192.0.2.1', 300), ls.submit(target, 'ipv4', '192.0.2.2', 600), ls.submit(target, 'ipv4', '192.0.2.3', 1)]);
  assert.ok(monitor.onEvent, 'a monitor follows the namespace once a set is written');
  const settle = () => new Promise((r) => setTimeout(r, 450)); // REPLAY_DELAY_MS + slack

  // Our own refresh: add + delete + add → one "delete element" event we expect; no replay.
  now += 200_000;
  await ls.submit(target, 'ipv4', '192.0.2.1', 300);
  const before = txs.length;
  monitor.onEvent({ op: 'delete', kind: 'element', family: 'inet', table: 't', set: 'l4', count: 1 });
  await settle();
  assert.equal(txs.length, before, 'own delete: nothing replayed');

  // `nft flush set`: deletes we did not send. .1 is still listed; .2 was lost; .3 expired long ago.
  state.listed = ['192.0.2.1'];
  monitor.onEvent({ op: 'delete', kind: 'element', family: 'inet', table: 't', set: 'l4', count: 2 });
  await settle();
  assert.equal(txs.length, before + 1);
  assert.deepEqual(txs.at(-1), [{ add: { element: { family: 'inet', table: 't', name: 'l4', elem: [{ elem: { val: '192.0.2.2', timeout: 400 } }] } } }]);

  // Table deleted and re-created (a ruleset reload): everything still alive comes back, once.
  state.listed = [];
  monitor.onEvent({ op: 'delete', kind: 'table', family: 'inet', table: 't' });
  monitor.onEvent({ op: 'add', kind: 'table', family: 'inet', table: 't' });
  monitor.onEvent({ op: 'add', kind: 'set', family: 'inet', table: 't', set: 'l4' });
  await settle();
  assert.equal(txs.length, before + 2, 'one replay for the burst of events');
  const vals = (txs.at(-1) as { add: { element: { elem: { elem: { val: string; timeout: number } }[] } } }[]).flatMap((c) => c.add.element.elem.map((e) => [e.elem.val, e.elem.timeout]));
  assert.deepEqual(vals.sort(), [
    ['192.0.2.1', 300],
    ['192.0.2.2', 400],
  ]);

  // Events for sets we never wrote are ignored.
  monitor.onEvent({ op: 'add', kind: 'set', family: 'inet', table: 'other', set: 'x' });
  await settle();
  assert.equal(txs.length, before + 2);
  await ls.stop();
  assert.equal(monitor.stopped, true);
});

test('between a flush and its replay no answer is told its address is in the set: it waits for a write sent after the flush', async () => {
  const state: { missing: boolean; listed?: string[] } = { missing: false };
  const { backend, txs, monitor } = fakeBackend(state);
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1 });
  await Promise.all([ls.submit(target, 'ipv4', '192.0.2.1', 3600), ls.submit(target, 'ipv4', '192.0.2.2', 3600)]);
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 3600), true);
  assert.ok(monitor.onEvent);
  // `nft flush set` by someone else (netlink says exactly: foreign). The replay is 300 ms away.
  state.listed = [];
  monitor.onEvent({ op: 'delete', kind: 'element', family: 'inet', table: 't', set: 'l4', count: 2, origin: 'foreign' });
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 3600), false, 'possibly lost: not fresh');
  assert.equal(ls.timeLeftMs(target, 'ipv4', '192.0.2.1'), 0, 'possibly lost: no time left to rely on');
  assert.equal(ls.fresh(target, 'ipv6', '2001:db8::1', 3600), false);
  const before = txs.length;
  assert.deepEqual(await ls.submit(target, 'ipv4', '192.0.2.1', 3600), { kind: 'applied', refreshed: true }, 'an answer for it waits for a write');
  assert.equal(txs.length, before + 1);
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.1', 3600), true, 'written after the flush: back');
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.2', 3600), false, 'the other address is still in doubt');
  await new Promise((r) => setTimeout(r, 450)); // REPLAY_DELAY_MS + slack: the replay writes the set back
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.2', 3600), true, 'after the replay');
  // Our own deletes (netlink: own) raise no doubt.
  monitor.onEvent({ op: 'delete', kind: 'element', family: 'inet', table: 't', set: 'l4', count: 1, origin: 'own' });
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.2', 3600), true);
  await ls.stop();
});

test('a replay whose listing fails is checked again: the doubt ends once the set has been read and written back', async () => {
  const state: { missing: boolean; listed?: string[] } = { missing: false };
  const { backend, monitor } = fakeBackend(state);
  let failListing = true;
  const listSet = backend.listSet.bind(backend);
  backend.listSet = async (ref, netns) => {
    if (failListing) throw new SidecarError('NFT_APPLY_FAILED', 'nft', 'netlink: receive failed');
    return listSet(ref, netns);
  };
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1 });
  await ls.submit(target, 'ipv4', '192.0.2.9', 3600);
  assert.ok(monitor.onEvent);
  state.listed = [];
  monitor.onEvent({ op: 'delete', kind: 'element', family: 'inet', table: 't', set: 'l4', count: 1, origin: 'foreign' });
  await new Promise((r) => setTimeout(r, 450)); // the replay runs, its listing fails
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.9', 3600), false, 'still in doubt after a failed replay');
  failListing = false;
  await new Promise((r) => setTimeout(r, 2300)); // RETRY_CHECK_MS + slack
  assert.equal(ls.fresh(target, 'ipv4', '192.0.2.9', 3600), true, 'checked again, written back: no doubt left');
  await ls.stop();
});

test('batches are cut so that no transaction carries more than maxTransactionPrefixes element operations (a refresh is 3)', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  let now = 1_000_000;
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 5, now: () => now, maxTransactionPrefixes: 10 });
  const addresses = Array.from({ length: 25 }, (_, k) => `192.0.2.${k + 1}`);
  const elementOps = (tx: unknown[]): number => tx.reduce<number>((n, c) => n + ((Object.values(c as object)[0] as { element?: { elem: unknown[] } }).element?.elem.length ?? 0), 0);
  const adds = await Promise.all(addresses.map((a) => ls.submit(target, 'ipv4', a, 300)));
  assert.ok(adds.every((r) => r.kind === 'applied'));
  assert.deepEqual(txs.map(elementOps), [10, 10, 5]);
  now += 200_000; // every address is now worth a refresh: add + delete + add
  txs.length = 0;
  const refreshes = await Promise.all(addresses.map((a) => ls.submit(target, 'ipv4', a, 300)));
  assert.ok(refreshes.every((r) => r.kind === 'applied' && r.refreshed));
  assert.ok(
    txs.every((tx) => elementOps(tx) <= 10),
    JSON.stringify(txs.map(elementOps)),
  );
  assert.equal(
    txs.map(elementOps).reduce((a, b) => a + b, 0),
    75,
  );
  await ls.stop();
});

test('a known address is "unchanged" at once (no batch timer); concurrent submissions of one new address share one element', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 200 });
  const burst = await Promise.all([1, 2, 3].map(() => ls.submit(target, 'ipv4', '192.0.2.9', 300)));
  assert.deepEqual(
    burst.map((r) => r.kind),
    ['applied', 'applied', 'applied'],
  );
  assert.equal(txs.length, 1);
  assert.deepEqual(txs[0], [{ add: { element: { family: 'inet', table: 't', name: 'l4', elem: [{ elem: { val: '192.0.2.9', timeout: 300 } }] } } }]);
  // With a 200 ms batch window, an answer that waited for the timer would lose this race.
  const t0 = performance.now();
  const again = await Promise.race([ls.submit(target, 'ipv4', '192.0.2.9', 300), new Promise((r) => setTimeout(() => r('timer'), 100))]);
  assert.deepEqual(again, { kind: 'unchanged' });
  assert.ok(performance.now() - t0 < 100);
  assert.equal(txs.length, 1, 'no kernel work');
  await ls.stop();
});

test('batchMs 0: what is submitted in one event-loop turn is one transaction; later turns are not held back', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 0 });
  await Promise.all([ls.submit(target, 'ipv4', '192.0.2.1', 300), ls.submit(target, 'ipv4', '192.0.2.2', 300)]);
  assert.equal(txs.length, 1);
  await ls.submit(target, 'ipv4', '192.0.2.3', 300);
  assert.equal(txs.length, 2);
  await ls.stop();
});
