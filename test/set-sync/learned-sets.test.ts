import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { SidecarError } from '../../src/errors.js';
import type { NftBackend, SetDescription } from '../../src/lib/nft/nft-backend.js';
import type { NftCommand } from '../../src/lib/nft/nft-json.js';
import { createLearnedSets } from '../../src/set-sync/learned-sets.js';

const logger = pino({ level: 'silent' });
const target = { family: 'inet' as const, table: 't', set4: 'l4', set6: 'l6', createSets: false };

/** Records each transaction as its list of JSON commands; `missing` makes apply fail like nft does. */
function fakeBackend(state: { missing: boolean }) {
  const txs: unknown[][] = [];
  const backend: NftBackend = {
    async apply(commands: Iterable<NftCommand>) {
      const cmds = [...commands].map((c) => JSON.parse(typeof c === 'string' ? c : [...c].join('')) as unknown);
      if (state.missing) throw new SidecarError('NFT_APPLY_FAILED', 'nft', 'No such file or directory');
      txs.push(cmds);
    },
    describeSet: async (): Promise<SetDescription> => (state.missing ? { kind: 'missing', what: 'set' } : { kind: 'ok', type: 'ipv4_addr', flags: ['timeout'], autoMerge: false }),
    listSet: async () => ({ kind: 'missing', what: 'set' }),
    monitor: () => ({ stop: async () => undefined }) as never,
  };
  return { backend, txs };
}

test('submissions within the batch window are one transaction; timeouts per element', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 5 });
  const r = await Promise.all([ls.submit(target, 'ipv4', '192.0.2.1', 300), ls.submit(target, 'ipv6', '2001:db8::1', 600), ls.submit({ ...target, set6: undefined }, 'ipv6', '2001:db8::2', 1)]);
  assert.deepEqual(r.map((x) => x.kind), ['applied', 'applied', 'no-set']);
  assert.equal(txs.length, 1);
  assert.deepEqual(txs[0], [
    { add: { element: { family: 'inet', table: 't', name: 'l4', elem: [{ elem: { val: '192.0.2.1', timeout: 300 } }] } } },
    { add: { element: { family: 'inet', table: 't', name: 'l6', elem: [{ elem: { val: '2001:db8::1', timeout: 600 } }] } } },
  ]);
  await ls.stop();
});

test('refresh is add + delete + add in one transaction, only when it extends the expiry usefully', async () => {
  const { backend, txs } = fakeBackend({ missing: false });
  let now = 1_000_000;
  const ls = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 1, now: () => now });
  await ls.submit(target, 'ipv4', '192.0.2.1', 300);
  assert.deepEqual(await ls.submit(target, 'ipv4', '192.0.2.1', 300), { kind: 'unchanged' });
  now += 200_000; // 200 s later, 100 s left: a 300 s answer extends by 200 s
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
