import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { emptyRangeSet, rangeSetOf } from '../../src/lib/ip-prefix/index.js';
import type { NftBackend } from '../../src/lib/nft/nft-backend.js';
import { createSetSync, type SetTarget } from '../../src/set-sync/index.js';

const logger = pino({ level: 'silent' });

/** A kernel whose sets start empty; its first transaction waits until the test calls `release`. */
function gatedKernel() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const k = { transactions: 0, release };
  const backend: NftBackend = {
    kind: 'netlink',
    apply: () => (k.transactions++ === 0 ? gate : Promise.resolve()),
    describeSet: async () => ({ kind: 'ok', type: 'ipv4_addr', flags: ['interval'], autoMerge: false }),
    listSet: async () => ({ kind: 'missing', what: 'set' }),
    readRanges: async (ref) => ({ kind: 'ok', set: emptyRangeSet(ref.set === 's4' ? 'ipv4' : 'ipv6') }),
    monitor: () => ({ stop: async () => undefined }),
  };
  return { k, backend };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('set-sync apply: newest-wins per target — while a write runs only the newest model waits; replaced callers get its reports', async () => {
  const { k, backend } = gatedKernel();
  const sync = createSetSync({ logger, registry: new Registry(), backend });
  const target: SetTarget = { list: 'vpn', family: 'inet', table: 't', set4: 's4', createSets: false };
  const other: SetTarget = { list: 'ads', family: 'inet', table: 't', set4: 'o4', createSets: false };
  const model = (...p: string[]) => ({ ipv4: rangeSetOf('ipv4', p), ipv6: emptyRangeSet('ipv6') });

  const first = sync.apply(target, model('10.0.0.0/8'));
  await turns(3);
  assert.equal(k.transactions, 1, 'the first model is being written');
  const replaced = sync.apply(target, model('10.0.0.0/8', '192.0.2.0/24'));
  const newest = sync.apply(target, model('10.0.0.0/8', '192.0.2.0/24', '198.51.100.0/24'));
  const otherList = sync.apply(other, model('203.0.113.0/24')); // same table, another target: a job of its own
  await turns(3);
  assert.equal(k.transactions, 1, 'the others wait for the table');
  k.release();
  const [r1, r2, r3, r4] = await Promise.all([first, replaced, newest, otherList]);
  assert.equal(k.transactions, 3, 'the first model, the newest one and the other target: the replaced model is never written');
  assert.equal(r1[0]?.added, 1);
  assert.equal(r3[0]?.added, 2, 'the newest model is written as the difference from the first');
  assert.deepEqual(r2, r3, 'the replaced caller gets the reports of the write that replaced it');
  assert.equal(r4[0]?.set, 'inet t o4');
  assert.deepEqual(
    sync.status().map((s) => [s.set, s.elements]),
    [
      ['inet t s4', 3],
      ['inet t o4', 1],
    ],
  );
  await sync.stop();
});
