import { diffRangeSets, WORDS, type RangeSet } from '../lib/ip-prefix/index.js';
import { RangeElements } from '../lib/nft/nft-json.js';

/**
 * How one set goes from what is applied to what is desired: nothing, one full transaction
 * (flush + add), or the exact difference (deletes + adds) in one or more chunks.
 */

/** Seconds an nft transaction is expected to take; the backend knows its own costs. */
export interface CostModel {
  /** Making a set of `appliedSize` elements lose `removed` and gain `added` elements, in `chunks` transactions. */
  diffSeconds(appliedSize: number, removed: number, added: number, chunks: number): number;
  /** flush + add of `desiredSize` elements in one transaction. */
  fullSeconds(desiredSize: number): number;
}

/**
 * nft 1.0.6 run as a process, measured in a namespace (bench/set-sync.bench.ts, README): every
 * element add/delete makes nft list the whole set first (kernel dump, quadratic: ~7e-11·n² s), and
 * each deleted interval costs nft ~1.5 µs per element already in the set; flush + add in one
 * transaction skips the listing and costs ~8 µs an element. So with the nft binary a diff only wins
 * for small sets or near-pure additions; both modes leave exactly the model in the set.
 */
export const NFT_CLI_COSTS: CostModel = {
  diffSeconds: (n, removed, added, chunks) => chunks * 7e-11 * n * n + 1.5e-6 * removed * n + 8e-6 * (removed + added),
  fullSeconds: (n) => 0.005 + 8e-6 * n,
};

/**
 * The netlink backend (src/lib/nft/netlink/): no nft process, no listing; the kernel does each
 * element in O(log n) (nft_set_rbtree), so a diff costs its operations and a transaction round trip,
 * and a full load its elements (measured, bench/set-sync.bench.ts: ~1 µs an element in the kernel
 * commit). Deletes are as cheap as adds, so the exact difference wins at every size.
 */
export const NETLINK_COSTS: CostModel = {
  diffSeconds: (_n, removed, added, chunks) => chunks * 0.002 + 2e-6 * (removed + added),
  fullSeconds: (n) => 0.002 + 1.5e-6 * n,
};

export interface DiffChunk {
  readonly removed: RangeSet;
  readonly added: RangeSet;
}

export type SyncPlan =
  | { mode: 'noop'; unchanged: number }
  | { mode: 'full'; added: number; unchanged: 0; removed: number | undefined }
  | { mode: 'diff'; chunks: DiffChunk[]; added: number; removed: number; unchanged: number };

function slice(set: RangeSet, from: number, to: number): RangeSet {
  const stride = 2 * WORDS[set.family];
  return { family: set.family, size: to - from, data: set.data.subarray(from * stride, to * stride) };
}

function cmp(a: Uint32Array, ao: number, b: Uint32Array, bo: number, w: number): number {
  for (let k = 0; k < w; k++) {
    const x = a[ao + k] ?? 0;
    const y = b[bo + k] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Cuts a difference into transactions of about `chunkSize` element operations, only between
 * *address regions*: a region is a run of removed and added ranges that overlap each other (a range
 * that changed shape is removed as it was and added as it is). Each transaction carries the deletes
 * and adds of whole regions, deletes first, so after any prefix of transactions every region is
 * wholly old or wholly new: an address covered by both models is never uncovered, and coverage
 * moves monotonically from the old model to the new one, region by region. A failure midway leaves
 * a consistent mix that a resync finishes. (Deletes-first across chunks would open holes;
 * adds-first would fail on overlaps, since the set has no auto-merge.)
 */
export function chunkDiff(removed: RangeSet, added: RangeSet, chunkSize: number): DiffChunk[] {
  const w = WORDS[removed.family];
  const stride = 2 * w;
  const r = removed.data;
  const a = added.data;
  const chunks: DiffChunk[] = [];
  let i = 0;
  let j = 0;
  let ci = 0;
  let cj = 0;
  let regionEnd: { src: Uint32Array; off: number } | undefined;
  while (i < removed.size || j < added.size) {
    const takeRemoved = j >= added.size || (i < removed.size && cmp(r, i * stride, a, j * stride, w) <= 0);
    const src = takeRemoved ? r : a;
    const idx = takeRemoved ? i : j;
    const startsNewRegion = regionEnd === undefined || cmp(src, idx * stride, regionEnd.src, regionEnd.off, w) > 0;
    if (startsNewRegion && i - ci + (j - cj) >= chunkSize) {
      chunks.push({ removed: slice(removed, ci, i), added: slice(added, cj, j) });
      ci = i;
      cj = j;
    }
    const lastOff = idx * stride + w;
    if (regionEnd === undefined || startsNewRegion || cmp(src, lastOff, regionEnd.src, regionEnd.off, w) > 0) regionEnd = { src, off: lastOff };
    if (takeRemoved) i++;
    else j++;
  }
  if (i > ci || j > cj) chunks.push({ removed: slice(removed, ci, i), added: slice(added, cj, j) });
  return chunks;
}

/** `applied` undefined = kernel contents unknown: only a full transaction makes them known. */
export function planSync(applied: RangeSet | undefined, desired: RangeSet, chunkSize: number, costs: CostModel): SyncPlan {
  if (applied === undefined) return { mode: 'full', added: desired.size, removed: undefined, unchanged: 0 };
  const { removed, added } = diffRangeSets(applied, desired);
  const unchanged = desired.size - added.size;
  if (removed.size === 0 && added.size === 0) return { mode: 'noop', unchanged };
  const chunks = chunkDiff(removed, added, chunkSize);
  if (costs.diffSeconds(applied.size, removed.size, added.size, chunks.length) > costs.fullSeconds(desired.size)) {
    return { mode: 'full', added: desired.size, removed: applied.size, unchanged: 0 };
  }
  return { mode: 'diff', chunks, added: added.size, removed: removed.size, unchanged };
}

/** Every range as its nft JSON element, serialised (streams; never an array of a million objects). */
export function elementsJson(set: RangeSet): Iterable<string> {
  return new RangeElements(set);
}
