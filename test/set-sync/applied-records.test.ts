import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { rangeSetOf, rangeSetsEqual, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import type { KernelStamp, NftBackend } from '../../src/lib/nft/nft-backend.js';
import { bootId, readRecord, recordPath, writeRecord } from '../../src/set-sync/applied-records.js';
import { createSetSync } from '../../src/set-sync/index.js';
import { RecordKeeper } from '../../src/set-sync/record-keeper.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'us-records-'));
  dirs.push(d);
  return d;
};

const v4 = rangeSetOf('ipv4', ['10.0.0.0/8', '192.0.2.1', '198.51.100.0/24']);
const v6 = rangeSetOf('ipv6', ['2001:db8::/32', '2001:db8:1::5']);
const boot = bootId();

/** A kernel the test drives: `generation` moves when the test says something committed. */
function fakeKernel(cookie = 'c0ffee') {
  const k = { cookie, generation: 5 };
  const backend = { kernelStamp: async (): Promise<KernelStamp> => ({ netnsCookie: k.cookie, generation: k.generation }) } as unknown as NftBackend;
  return { k, backend };
}

test('records: a record reads back as written; damage and absence are told apart', { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const file = recordPath(dir, 'vpn');
  assert.deepEqual(await readRecord(file), { kind: 'none' });
  await writeRecord(file, {
    bootId: boot,
    stamp: { netnsCookie: 'ab', generation: 42 },
    sets: new Map([
      ['inet|t|s4', v4],
      ['inet|t|s6', v6],
    ]),
  });
  const r = await readRecord(file);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.deepEqual(r.record.stamp, { netnsCookie: 'ab', generation: 42 });
  assert.ok(rangeSetsEqual(r.record.sets.get('inet|t|s4') as RangeSet, v4));
  assert.ok(rangeSetsEqual(r.record.sets.get('inet|t|s6') as RangeSet, v6));
  const bytes = readFileSync(file);
  bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 0xff;
  writeFileSync(file, bytes);
  assert.equal((await readRecord(file)).kind, 'corrupt');
  // Two namespaces never share a file, whatever their names.
  assert.notEqual(recordPath(dir, 'a/b'), recordPath(dir, 'a_b'));
  assert.notEqual(recordPath(dir, undefined), recordPath(dir, 'host'));
});

test('records: believed only while the namespace is at the recorded stamp', { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const { k, backend } = fakeKernel();
  const keeper = new RecordKeeper(dir, backend, logger);
  const before = await keeper.stamp('vpn');
  k.generation += 2; // our two commits
  await keeper.settle('vpn', before, await keeper.stamp('vpn'), { definite: 2, uncertain: 0 }, new Map([['inet|t|s4', v4]]));
  assert.ok(rangeSetsEqual((await keeper.recall('vpn', 'inet|t|s4', await keeper.stamp('vpn'))) as RangeSet, v4));
  // Another process sees the same file.
  const fresh = new RecordKeeper(dir, backend, logger);
  assert.ok(await fresh.recall('vpn', 'inet|t|s4', await fresh.stamp('vpn')));
  assert.equal(await fresh.recall('other', 'inet|t|s4', await fresh.stamp('other')), undefined);
  k.generation++; // anybody's commit
  assert.equal(await fresh.recall('vpn', 'inet|t|s4', await fresh.stamp('vpn')), undefined);
  k.generation--;
  k.cookie = 'beef'; // the namespace was deleted and created again
  assert.equal(await fresh.recall('vpn', 'inet|t|s4', await fresh.stamp('vpn')), undefined);
});

test('records: a foreign or uncertain commit during the write forgets the namespace', { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const { k, backend } = fakeKernel();
  const keeper = new RecordKeeper(dir, backend, logger);
  const written = new Map([['inet|t|s4', v4]]);
  let before = await keeper.stamp(undefined);
  k.generation++;
  await keeper.settle(undefined, before, await keeper.stamp(undefined), { definite: 1, uncertain: 0 }, written);
  assert.ok(existsSync(recordPath(dir, undefined)));
  before = await keeper.stamp(undefined);
  k.generation += 2; // ours and somebody else's
  await keeper.settle(undefined, before, await keeper.stamp(undefined), { definite: 1, uncertain: 0 }, written);
  assert.equal(existsSync(recordPath(dir, undefined)), false);
  before = await keeper.stamp(undefined);
  k.generation++;
  await keeper.settle(undefined, before, await keeper.stamp(undefined), { definite: 1, uncertain: 1 }, written);
  assert.equal(existsSync(recordPath(dir, undefined)), false, 'a failed transaction may still commit: nothing is recorded');
});

test("records: the namespace's other sets stay recorded only if the record held when the write began", { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const { k, backend } = fakeKernel();
  const keeper = new RecordKeeper(dir, backend, logger);
  let before = await keeper.stamp('n');
  k.generation++;
  await keeper.settle('n', before, await keeper.stamp('n'), { definite: 1, uncertain: 0 }, new Map([['inet|t|a', v4]]));
  before = await keeper.stamp('n');
  k.generation++;
  await keeper.settle('n', before, await keeper.stamp('n'), { definite: 1, uncertain: 0 }, new Map([['inet|t|b', v6]]));
  const now = await keeper.stamp('n');
  assert.ok(await keeper.recall('n', 'inet|t|a', now), 'a is still what we left: only our commit came between');
  assert.ok(await keeper.recall('n', 'inet|t|b', now));
  k.generation += 3; // somebody committed; then we write c
  before = await keeper.stamp('n');
  k.generation++;
  await keeper.settle('n', before, await keeper.stamp('n'), { definite: 1, uncertain: 0 }, new Map([['inet|t|c', v4]]));
  const later = await new RecordKeeper(dir, backend, logger).stamp('n');
  const reread = new RecordKeeper(dir, backend, logger);
  assert.equal(await reread.recall('n', 'inet|t|a', later), undefined, 'a may have been changed by that commit');
  assert.ok(await reread.recall('n', 'inet|t|c', later));
});

test("records: the generation wraps past 0 as the kernel's does", { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const { k, backend } = fakeKernel();
  k.generation = 0xffffffff;
  const keeper = new RecordKeeper(dir, backend, logger);
  const before = await keeper.stamp(undefined);
  k.generation = 1; // nf_tables_commit skips 0
  await keeper.settle(undefined, before, await keeper.stamp(undefined), { definite: 1, uncertain: 0 }, new Map([['inet|t|a', v4]]));
  assert.ok(await keeper.recall(undefined, 'inet|t|a', await keeper.stamp(undefined)));
});

/**
 * set-sync over a fake kernel whose generation moves with every transaction: a second process
 * (a new createSetSync on the same directory) does not read the set back while nothing else committed.
 */
test('set-sync: a later run takes the kernel from the record instead of reading it back, until something else commits', { skip: boot === '' ? 'no /proc boot_id' : false }, async () => {
  const dir = tempDir();
  const k = { generation: 7, reads: 0, txs: 0, holds: { ipv4: rangeSetOf('ipv4', []), ipv6: rangeSetOf('ipv6', []) } };
  const backend: NftBackend = {
    kind: 'netlink',
    async apply() {
      k.txs++;
      k.generation++;
    },
    describeSet: async () => ({ kind: 'ok', type: 'ipv4_addr', flags: ['interval'], autoMerge: false }),
    listSet: async () => ({ kind: 'missing', what: 'set' }),
    async readRanges(ref) {
      k.reads++;
      return { kind: 'ok', set: ref.set === 's4' ? k.holds.ipv4 : k.holds.ipv6 };
    },
    kernelStamp: async () => ({ netnsCookie: 'n1', generation: k.generation }),
    monitor: () => ({ stop: async () => undefined }),
  };
  const target = { list: 'l', family: 'inet' as const, table: 't', set4: 's4', set6: 's6', createSets: false };
  const model = { ipv4: v4, ipv6: v6 };
  const run = () => createSetSync({ logger, registry: new Registry(), backend, recordDir: dir }).apply(target, model);

  const first = await run();
  assert.equal(k.reads, 2, 'the first run reads both sets back');
  assert.deepEqual(
    first.map((r) => r.basis),
    ['readback', 'readback'],
  );
  k.holds = model;
  const second = await run();
  assert.equal(k.reads, 2, 'nothing read back');
  assert.deepEqual(
    second.map((r) => [r.mode, r.basis]),
    [
      ['noop', 'record'],
      ['noop', 'record'],
    ],
  );
  k.generation++; // nft add element … by hand
  const third = await run();
  assert.equal(k.reads, 4, 'read back after a foreign commit');
  assert.deepEqual(
    third.map((r) => [r.mode, r.basis]),
    [
      ['noop', 'readback'],
      ['noop', 'readback'],
    ],
  );
  const fourth = await run();
  assert.deepEqual(
    fourth.map((r) => r.basis),
    ['record', 'record'],
    'the noop after a readback records what it saw',
  );
});
