import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffRangeSets, RangeSetBuilder, rangeTexts, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import { setSyncConfigSchema, setTargetConfigSchema } from '../../src/set-sync/config.js';
import { EchoFilter } from '../../src/set-sync/echo-filter.js';
import { coverageOf, exactFromElements } from '../../src/set-sync/readback.js';
import { chunkDiff, NETLINK_COSTS, NFT_CLI_COSTS, planSync } from '../../src/set-sync/set-plan.js';

const v4 = (...r: [string, string][]): RangeSet => {
  const b = new RangeSetBuilder('ipv4');
  for (const [f, l] of r) b.addRange(f, l);
  return b.build();
};

test('chunks cut only between regions: an interval that changed shape stays with its replacement', () => {
  const applied = v4(['1.0.0.0', '1.0.0.10'], ['2.0.0.0', '2.0.0.0'], ['3.0.0.0', '3.0.0.5'], ['4.0.0.0', '4.0.0.0']);
  const desired = v4(['1.0.0.0', '1.0.0.20'], ['3.0.0.0', '3.0.0.9'], ['5.0.0.0', '5.0.0.0']);
  const { removed, added } = diffRangeSets(applied, desired);
  // Regions of 2, 1, 2, 1, 1 operations; a bound of 5 takes the first three, not half of the third.
  const chunks = chunkDiff(removed, added, 5);
  assert.deepEqual(
    chunks.map((c) => [rangeTexts(c.removed), rangeTexts(c.added)]),
    [
      [
        ['1.0.0.0-1.0.0.10', '2.0.0.0', '3.0.0.0-3.0.0.5'],
        ['1.0.0.0-1.0.0.20', '3.0.0.0-3.0.0.9'],
      ],
      [['4.0.0.0'], ['5.0.0.0']],
    ],
  );
  assert.deepEqual(
    chunkDiff(removed, added, 6).map((c) => c.removed.size + c.added.size),
    [6, 1],
  );
  assert.equal(chunkDiff(removed, added, 100).length, 1);
  assert.throws(() => chunkDiff(removed, added, 4), /cannot make progress/);
});

test('chunks: every transaction within the bound, even inside a region bigger than the bound, and when chunks of a bigger bound are cut again; coverage only ever old-or-new; exact at the end', () => {
  const rnd = prng(7);
  const cases: [string, RangeSet, RangeSet][] = [
    // One old /22-like range replaced by 300 small ones, and the reverse.
    ['split', raw([[0, 3000]]), raw(Array.from({ length: 300 }, (_, k): [number, number] => [k * 10 + 1, k * 10 + 5]))],
    ['merge', raw(Array.from({ length: 300 }, (_, k): [number, number] => [k * 10 + 1, k * 10 + 5])), raw([[0, 3000]])],
    // Interleaved chains: each new range overlaps two old ones.
    ['chain', raw(Array.from({ length: 200 }, (_, k): [number, number] => [k * 10, k * 10 + 6])), raw(Array.from({ length: 200 }, (_, k): [number, number] => [k * 10 + 4, k * 10 + 12]))],
  ];
  for (let k = 0; k < 20; k++) cases.push([`random ${k}`, randomRanges(rnd, 3000), randomRanges(rnd, 3000)]);
  for (const [name, old, next] of cases) {
    // recut: chunks of a bigger (quiet) bound, each cut again by the bound, as the writer does when someone listens after all.
    for (const [bound, recut] of [
      [5, 0],
      [6, 0],
      [17, 0],
      [1000, 0],
      [5, 7],
      [6, 40],
      [17, 100],
    ] as const) {
      const { removed, added } = diffRangeSets(old, next);
      const chunks = recut === 0 ? chunkDiff(removed, added, bound) : chunkDiff(removed, added, recut).flatMap((c) => chunkDiff(c.removed, c.added, bound));
      const kernel = new Map<number, number>();
      for (let i = 0; i < old.size; i++) kernel.set(old.data[2 * i]!, old.data[2 * i + 1]!);
      const inOld = bitmap(old);
      const inNew = bitmap(next);
      for (const [ci, c] of chunks.entries()) {
        const where = `${name}, bound ${bound}, chunk ${ci}`;
        assert.ok(c.removed.size + c.added.size <= bound, `${where}: ${c.removed.size + c.added.size} operations`);
        applyToKernel(kernel, c, where);
        const cov = bitmap(raw([...kernel]));
        for (let x = 0; x <= 3100; x++) {
          if (inOld[x] && inNew[x] && !cov[x]) assert.fail(`${where}: ${x} is in both models and was uncovered`);
          if (!inOld[x] && !inNew[x] && cov[x]) assert.fail(`${where}: ${x} is in neither model and got covered`);
        }
      }
      const final = [...kernel].sort((p, q) => p[0] - q[0]);
      assert.deepEqual(
        final,
        Array.from({ length: next.size }, (_, i) => [next.data[2 * i]!, next.data[2 * i + 1]!]),
        `${name}, bound ${bound}: exactly the new elements`,
      );
    }
  }
});

test('chunks: a split region in IPv6, cut where the words borrow (y - 1 = …:ffff:ffff)', () => {
  const text = (x: bigint): string => [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ((x >> BigInt(112 - 16 * k)) & 0xffffn).toString(16)).join(':');
  const base = 0x2a00n << 112n;
  const r6 = (pairs: [bigint, bigint][]): RangeSet => {
    const b = new RangeSetBuilder('ipv6');
    for (const [f, l] of pairs) b.addRange(text(base + f), text(base + l));
    return b.build();
  };
  // One old range across a 32-bit word boundary, replaced by small ones on both sides of it.
  const old = r6([[0xfff0n, 0x1_0000_0010n]]);
  const next = r6([
    [0xfff2n, 0xfff3n],
    [0xfff6n, 0xfff9n],
    [0xfffcn, 0xffffn],
    [0x1_0000_0000n, 0x1_0000_0001n],
    [0x1_0000_0004n, 0x1_0000_0004n],
    [0x1_0000_0008n, 0x1_0000_000fn],
  ]);
  const toBig = (d: Uint32Array, o: number): bigint => Array.from(d.subarray(o, o + 4)).reduce((n, w) => (n << 32n) | BigInt(w), 0n);
  const { removed, added } = diffRangeSets(old, next);
  const chunks = chunkDiff(removed, added, 5);
  assert.ok(chunks.length > 2, `${chunks.length} chunks`);
  const kernel = new Map<bigint, bigint>([[toBig(old.data, 0), toBig(old.data, 4)]]);
  for (const c of chunks) {
    assert.ok(c.removed.size + c.added.size <= 5);
    for (let i = 0; i < c.removed.size; i++) {
      assert.equal(kernel.get(toBig(c.removed.data, 8 * i)), toBig(c.removed.data, 8 * i + 4), 'delete names a stored element');
      kernel.delete(toBig(c.removed.data, 8 * i));
    }
    for (let i = 0; i < c.added.size; i++) {
      const [f, l] = [toBig(c.added.data, 8 * i), toBig(c.added.data, 8 * i + 4)];
      assert.ok(f <= l, 'no empty piece');
      for (const [kf, kl] of kernel) assert.ok(l < kf || f > kl, 'no overlap');
      kernel.set(f, l);
    }
    // Coverage: only old-or-new, so the boundary address (in both models) is never uncovered.
    const at = (x: bigint): boolean => [...kernel].some(([f, l]) => f <= x && x <= l);
    assert.ok(at(base + 0x1_0000_0000n) && at(base + 0xffffn), 'addresses in both models stay covered');
  }
  assert.deepEqual(
    [...kernel].sort((p, q) => (p[0] < q[0] ? -1 : 1)),
    Array.from({ length: next.size }, (_, i) => [toBig(next.data, 8 * i), toBig(next.data, 8 * i + 4)]),
  );
});

test('plan: first load into an empty set is bounded chunks of adds; flush + add only when old + new fit in one transaction', () => {
  const empty = v4();
  const big = raw(Array.from({ length: 20_000 }, (_, k): [number, number] => [k * 4, k * 4 + 1]));
  const p = planSync(empty, big, 7000, NETLINK_COSTS);
  assert.equal(p.mode, 'diff');
  if (p.mode !== 'diff') return;
  assert.deepEqual(
    p.chunks.map((c) => [c.removed.size, c.added.size]),
    [
      [0, 7000],
      [0, 7000],
      [0, 6000],
    ],
  );
  // A quiet bound: the same load is bulk, in chunks of that bound; a diff within the bound is not.
  const quiet = planSync(empty, big, 7000, NETLINK_COSTS, 16_000);
  assert.ok(quiet.mode === 'diff' && quiet.bulk);
  if (quiet.mode === 'diff')
    assert.deepEqual(
      quiet.chunks.map((c) => c.added.size),
      [16_000, 4000],
    );
  const small = planSync(empty, raw([[1, 2]]), 7000, NETLINK_COSTS, 16_000);
  assert.ok(small.mode !== 'diff' || !small.bulk, 'one chunk is not a bulk write');
  assert.ok(p.mode === 'diff' && !p.bulk, 'no quiet bound: never bulk');
  const a = v4(['1.0.0.0', '1.0.0.10']);
  assert.equal(planSync(a, a, 10, NFT_CLI_COSTS).mode, 'noop');
  // nft 1.0.6 costs favour a flush + reload of a 1 % churn of 30k (measured: 13 s as a diff, 0.26 s
  // reloaded), but 30k + 30k do not fit in a bound of 7000: the diff it is, in bounded chunks.
  assert.ok(NFT_CLI_COSTS.diffSeconds(30_000, 300, 300, 1) > 10 * NFT_CLI_COSTS.fullSeconds(30_000));
  const old = raw(Array.from({ length: 30_000 }, (_, k): [number, number] => [k * 4, k * 4 + 1]));
  const churned = raw(Array.from({ length: 30_000 }, (_, k): [number, number] => [k * 4, k * 4 + (k % 100 === 0 ? 2 : 1)]));
  const q = planSync(old, churned, 7000, NFT_CLI_COSTS);
  assert.equal(q.mode, 'diff');
  if (q.mode === 'diff') assert.ok(q.chunks.every((c) => c.removed.size + c.added.size <= 7000));
  // Small enough to fit: the atomic flush + add, as the costs say.
  const smallOld = raw(Array.from({ length: 3000 }, (_, k): [number, number] => [k * 4, k * 4 + 1]));
  const smallNew = raw(Array.from({ length: 3000 }, (_, k): [number, number] => [k * 4, k * 4 + (k % 100 === 0 ? 2 : 1)]));
  assert.equal(planSync(smallOld, smallNew, 7000, NFT_CLI_COSTS).mode, 'full');
  assert.equal(planSync(smallOld, smallNew, 5999, NFT_CLI_COSTS).mode, 'diff');
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

test('config: defaults, and the families a table can hold; chunkSize is gone, the bound is setSync.maxTransactionPrefixes', () => {
  assert.deepEqual(setTargetConfigSchema.parse({ table: 'global', set4: 'force_vpn4', set6: 'force_vpn6' }), {
    family: 'inet',
    table: 'global',
    set4: 'force_vpn4',
    set6: 'force_vpn6',
    createSets: false,
  });
  assert.equal(setTargetConfigSchema.safeParse({ table: 'global' }).success, false);
  assert.equal(setTargetConfigSchema.safeParse({ family: 'ip', table: 'g', set6: 'x' }).success, false);
  assert.equal(setTargetConfigSchema.safeParse({ table: 'g', set4: 'bad name' }).success, false);
  assert.equal(setTargetConfigSchema.safeParse({ table: 'g', set4: 'x', chunkSize: 50_000 }).success, false);
  assert.deepEqual(setSyncConfigSchema.parse({}), { maxTransactionPrefixes: 6000, maxQuietTransactionPrefixes: 24_000 });
  assert.equal(setSyncConfigSchema.safeParse({ maxQuietTransactionPrefixes: 0 }).success, false);
  assert.equal(setSyncConfigSchema.safeParse({ maxQuietTransactionPrefixes: 2_000_000 }).success, false);
  assert.equal(setSyncConfigSchema.safeParse({ maxTransactionPrefixes: 15 }).success, false);
  assert.equal(setSyncConfigSchema.safeParse({ maxTransactionPrefixes: 2.5 }).success, false);
});

/** A v4 RangeSet from numeric [first, last] pairs, as given (sorted, disjoint). */
function raw(pairs: [number, number][]): RangeSet {
  return { family: 'ipv4', size: pairs.length, data: Uint32Array.from(pairs.flat()) };
}

function prng(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) >>> 0) / 4294967296;
}

/** Sorted, disjoint, non-adjacent ranges below `max`, of very mixed lengths. */
function randomRanges(rnd: () => number, max: number): RangeSet {
  const pairs: [number, number][] = [];
  let x = Math.floor(rnd() * 20);
  while (x < max) {
    const len = rnd() < 0.1 ? Math.floor(rnd() * 300) : Math.floor(rnd() * 6);
    pairs.push([x, Math.min(max, x + len)]);
    x += len + 2 + Math.floor(rnd() * 15);
  }
  return raw(pairs);
}

/** Applies one chunk to a model of the kernel's interval set (no auto-merge): deletes must name stored elements, adds must not overlap. */
function applyToKernel(kernel: Map<number, number>, c: { removed: RangeSet; added: RangeSet }, where: string): void {
  for (let i = 0; i < c.removed.size; i++) {
    const f = c.removed.data[2 * i]!;
    assert.equal(kernel.get(f), c.removed.data[2 * i + 1], `${where}: delete of an element not stored as such`);
    kernel.delete(f);
  }
  for (let i = 0; i < c.added.size; i++) {
    const f = c.added.data[2 * i]!;
    const l = c.added.data[2 * i + 1]!;
    assert.ok(f <= l, `${where}: empty range added`);
    for (const [kf, kl] of kernel) assert.ok(l < kf || f > kl, `${where}: add ${f}-${l} overlaps ${kf}-${kl}`);
    kernel.set(f, l);
  }
}

function bitmap(set: RangeSet): Uint8Array {
  const b = new Uint8Array(3101);
  for (let i = 0; i < set.size; i++) b.fill(1, set.data[2 * i]!, set.data[2 * i + 1]! + 1);
  return b;
}
