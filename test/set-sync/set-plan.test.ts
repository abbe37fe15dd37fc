import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffRangeSets, RangeSetBuilder, rangeTexts, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import { setTargetConfigSchema } from '../../src/set-sync/config.js';
import { EchoFilter } from '../../src/set-sync/echo-filter.js';
import { coverageOf, exactFromElements } from '../../src/set-sync/readback.js';
import { chunkDiff, NFT_CLI_COSTS, planSync } from '../../src/set-sync/set-plan.js';

const v4 = (...r: [string, string][]): RangeSet => {
  const b = new RangeSetBuilder('ipv4');
  for (const [f, l] of r) b.addRange(f, l);
  return b.build();
};

test('chunks cut only between regions: an interval that changed shape stays with its replacement', () => {
  const applied = v4(['1.0.0.0', '1.0.0.10'], ['2.0.0.0', '2.0.0.0'], ['3.0.0.0', '3.0.0.5'], ['4.0.0.0', '4.0.0.0']);
  const desired = v4(['1.0.0.0', '1.0.0.20'], ['3.0.0.0', '3.0.0.9'], ['5.0.0.0', '5.0.0.0']);
  const { removed, added } = diffRangeSets(applied, desired);
  const chunks = chunkDiff(removed, added, 1);
  assert.deepEqual(chunks.map((c) => [rangeTexts(c.removed), rangeTexts(c.added)]), [
    [['1.0.0.0-1.0.0.10'], ['1.0.0.0-1.0.0.20']],
    [['2.0.0.0'], []],
    [['3.0.0.0-3.0.0.5'], ['3.0.0.0-3.0.0.9']],
    [['4.0.0.0'], []],
    [[], ['5.0.0.0']],
  ]);
  assert.equal(chunkDiff(removed, added, 100).length, 1);
});

test('plan: unknown kernel → full; equal → noop; nft 1.0.6 costs pick full for a 1% churn of 30k', () => {
  const a = v4(['1.0.0.0', '1.0.0.10']);
  assert.equal(planSync(undefined, a, 10, NFT_CLI_COSTS).mode, 'full');
  assert.equal(planSync(a, a, 10, NFT_CLI_COSTS).mode, 'noop');
  assert.equal(planSync(a, v4(['1.0.0.0', '1.0.0.10'], ['9.0.0.0', '9.0.0.0']), 10, NFT_CLI_COSTS).mode, 'diff');
  // Measured: 300 deletes + 300 adds into 30k took 13 s with nft 1.0.6, a full reload 0.26 s.
  assert.ok(NFT_CLI_COSTS.diffSeconds(30_000, 300, 300, 1) > 10 * NFT_CLI_COSTS.fullSeconds(30_000));
});

test('readback keeps adjacent kernel elements apart (exact) and merges them for coverage', () => {
  const exact = exactFromElements('ipv4', ['1.2.3.5', '1.2.3.4', { prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['20.0.0.1', '20.0.0.9'] }]);
  assert.ok(exact);
  assert.deepEqual(rangeTexts(exact), ['1.2.3.4', '1.2.3.5', '10.0.0.0/8', '20.0.0.1-20.0.0.9']);
  assert.deepEqual(rangeTexts(coverageOf(exact)), ['1.2.3.4/31', '10.0.0.0/8', '20.0.0.1-20.0.0.9']);
  assert.equal(exactFromElements('ipv4', ['10.0.0.1', { prefix: { addr: '10.0.0.0', len: 24 } }]), undefined, 'overlap');
  assert.equal(exactFromElements('ipv4', ['::1']), undefined, 'wrong family');
});

test('echo filter: our own flush + adds are ours, a later flush is not', () => {
  let now = 0;
  const f = new EchoFilter(() => now);
  const done = f.expect({ adds: 2, deletes: 0, flush: true });
  assert.ok(f.expectingCreate());
  assert.ok(f.ours('delete', 1));
  done(true);
  assert.ok(f.ours('add', 1));
  assert.ok(f.ours('add', 1));
  assert.equal(f.ours('delete', 1), false, 'a flush after our adds were echoed is foreign');
  now = 10_000;
  assert.equal(f.ours('add', 1), false);
});

test('config: defaults, and the families a table can hold', () => {
  assert.deepEqual(setTargetConfigSchema.parse({ table: 'global', set4: 'force_vpn4', set6: 'force_vpn6' }), { family: 'inet', table: 'global', set4: 'force_vpn4', set6: 'force_vpn6', createSets: false, chunkSize: 50_000 });
  assert.equal(setTargetConfigSchema.safeParse({ table: 'global' }).success, false);
  assert.equal(setTargetConfigSchema.safeParse({ family: 'ip', table: 'g', set6: 'x' }).success, false);
  assert.equal(setTargetConfigSchema.safeParse({ table: 'g', set4: 'bad name' }).success, false);
});
