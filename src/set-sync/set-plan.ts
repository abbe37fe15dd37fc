import { diffRangeSets, type RangeSet } from '../lib/ip-prefix/index.js';
import { RangeElements } from '../lib/nft/nft-json.js';
import { chunkDiff, type DiffChunk } from './diff-chunks.js';

export { chunkDiff, type DiffChunk } from './diff-chunks.js';

/**
 * How one set goes from what the kernel holds to what is desired: nothing, one bounded full
 * transaction (flush + add), or the exact difference (deletes + adds) in bounded chunks.
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

export type SyncPlan =
  | { mode: 'noop'; unchanged: number }
  | { mode: 'full'; added: number; unchanged: 0; removed: number }
  | { mode: 'diff'; chunks: DiffChunk[]; added: number; removed: number; unchanged: number; bulk: boolean };

/**
 * How `applied` (the kernel's exact contents: what we wrote, or read back) becomes `desired`
 * without any transaction over `bound` range operations (flushed and added ranges both count:
 * the kernel notifies every element a flush removes too). flush + add in one transaction only
 * when old + new fit in the bound and the backend's costs favour it; otherwise the exact
 * difference in bounded chunks (chunkDiff). An empty set therefore fills in chunks of adds.
 *
 * `quietBound` (setSync.maxQuietTransactionPrefixes, where the backend can write without
 * notifications): a difference bigger than `bound` is a bulk write, cut into chunks of the quiet
 * bound instead (`bulk: true`); the writer cuts each again by `bound` (chunkDiff of the chunk's own
 * removed and added ranges keeps the same old-or-new rule) when someone listens after all.
 */
export function planSync(applied: RangeSet, desired: RangeSet, bound: number, costs: CostModel, quietBound?: number): SyncPlan {
  const { removed, added } = diffRangeSets(applied, desired);
  const unchanged = desired.size - added.size;
  if (removed.size === 0 && added.size === 0) return { mode: 'noop', unchanged };
  const chunks = chunkDiff(removed, added, bound);
  const fullFits = applied.size + desired.size <= bound;
  if (fullFits && costs.diffSeconds(applied.size, removed.size, added.size, chunks.length) > costs.fullSeconds(desired.size)) {
    return { mode: 'full', added: desired.size, removed: applied.size, unchanged: 0 };
  }
  const bulk = quietBound !== undefined && quietBound > bound && chunks.length > 1;
  return { mode: 'diff', chunks: bulk ? chunkDiff(removed, added, quietBound) : chunks, added: added.size, removed: removed.size, unchanged, bulk };
}

/** Every range as its nft JSON element, serialised (streams; never an array of a million objects). */
export function elementsJson(set: RangeSet): Iterable<string> {
  return new RangeElements(set);
}
