import { WORDS, type RangeSet } from '../lib/ip-prefix/index.js';
import { RangeWriter } from '../lib/ip-prefix/range-writer.js';

/**
 * Cuts the exact difference between what a set holds and what it should hold into transactions of
 * at most `bound` range operations (deletes + adds), such that after ANY prefix of them every
 * address is covered as in the old model or as in the new one — never neither: an address in both
 * models is never uncovered, and nothing outside both is ever covered. A failure (or kill -9)
 * midway leaves a consistent mix that a resync finishes.
 *
 * Normally a transaction carries whole *address regions*: a region is a run of removed and added
 * ranges that overlap each other (a range that changed shape is removed as it was and added as it
 * is), deletes first. A region wholly applied is wholly new, so cutting between regions keeps the
 * rule. (Deletes-first across transactions would open holes; adds-first fails on overlaps, since
 * the set has no auto-merge.)
 *
 * A region with more operations than `bound` (one old /8 replaced by 20k small ranges, or the
 * reverse) is walked in address order instead, cut at the start y of a range: the state after a
 * cut is "new model below y, old model from y on", with the ranges that straddle y split there —
 * the old range's tail [y, last] re-added, the new range's head [first, y-1] added — and those
 * pieces replaced by the next transaction. So at most 4 operations per transaction are pieces,
 * and the last transaction leaves exactly the new model's elements.
 *
 * Why a bound at all: while a transaction commits with any NFNLGRP_NFTABLES listener present,
 * nf_tables_setelem_notify() allocates one notification skb per element (an interval is two) and
 * nft_commit_notify() frees them only at the end (net/netfilter/nf_tables_api.c): ~17 KB of
 * unreclaimable kernel slab per range, measured (src/set-sync/README.md).
 */

export interface DiffChunk {
  readonly removed: RangeSet;
  readonly added: RangeSet;
}

/** Pieces per split transaction: the straddlers' old head and tail deleted, new head and tail added. */
const PIECES = 4;
/** The smallest bound that always makes progress inside an oversized region. */
export const MIN_BOUND = PIECES + 1;

interface Region {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
}

function cmp(a: Uint32Array, ao: number, b: Uint32Array, bo: number, w: number): number {
  for (let k = 0; k < w; k++) {
    const x = a[ao + k] ?? 0;
    const y = b[bo + k] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function slice(set: RangeSet, from: number, to: number): RangeSet {
  const stride = 2 * WORDS[set.family];
  return { family: set.family, size: to - from, data: set.data.subarray(from * stride, to * stride) };
}

/** The regions of a difference, in address order (index ranges into `removed` and `added`). */
function* regions(removed: RangeSet, added: RangeSet): Generator<Region> {
  const w = WORDS[removed.family];
  const stride = 2 * w;
  const r = removed.data;
  const a = added.data;
  let i = 0;
  let j = 0;
  let start: Region | undefined;
  let endSrc = r;
  let endOff = 0;
  while (i < removed.size || j < added.size) {
    const takeRemoved = j >= added.size || (i < removed.size && cmp(r, i * stride, a, j * stride, w) <= 0);
    const src = takeRemoved ? r : a;
    const idx = takeRemoved ? i : j;
    if (start === undefined || cmp(src, idx * stride, endSrc, endOff, w) > 0) {
      if (start !== undefined) yield { i0: start.i0, i1: i, j0: start.j0, j1: j };
      start = { i0: i, i1: i, j0: j, j1: j };
      endSrc = src;
      endOff = idx * stride + w;
    } else if (cmp(src, idx * stride + w, endSrc, endOff, w) > 0) {
      endSrc = src;
      endOff = idx * stride + w;
    }
    if (takeRemoved) i++;
    else j++;
  }
  if (start !== undefined) yield { i0: start.i0, i1: i, j0: start.j0, j1: j };
}

export function chunkDiff(removed: RangeSet, added: RangeSet, bound: number): DiffChunk[] {
  if (!(bound >= MIN_BOUND)) throw new RangeError(`set-sync: a transaction bound below ${MIN_BOUND} cannot make progress`);
  const chunks: DiffChunk[] = [];
  let ci = 0;
  let cj = 0;
  const close = (i: number, j: number): void => {
    if (i > ci || j > cj) chunks.push({ removed: slice(removed, ci, i), added: slice(added, cj, j) });
    ci = i;
    cj = j;
  };
  for (const g of regions(removed, added)) {
    const ops = g.i1 - g.i0 + (g.j1 - g.j0);
    if (ops <= bound) {
      if (g.i0 - ci + (g.j0 - cj) + ops > bound) close(g.i0, g.j0);
      continue;
    }
    close(g.i0, g.j0);
    splitRegion(removed, added, g, bound, chunks);
    ci = g.i1;
    cj = g.j1;
  }
  close(removed.size, added.size);
  return chunks;
}

/** An oversized region in transactions of ≤ bound operations, cut at range starts (see chunkDiff). */
function splitRegion(removed: RangeSet, added: RangeSet, g: Region, bound: number, out: DiffChunk[]): void {
  const family = removed.family;
  const w = WORDS[family];
  const stride = 2 * w;
  const r = removed.data;
  const a = added.data;
  /** Cut position (words), the old range whose tail [x, last] is in the kernel, the new range whose head [first, x-1] is. */
  let x: Uint32Array | undefined;
  let tail: number | undefined;
  let head: number | undefined;
  let i = g.i0;
  let j = g.j0;
  const below = (v: Uint32Array): Uint32Array => {
    const d = v.slice();
    for (let k = w - 1; k >= 0; k--) {
      d[k] = ((d[k] ?? 0) - 1) >>> 0;
      if (d[k] !== 0xffffffff) break;
    }
    return d;
  };
  while (i < g.i1 || j < g.j1) {
    const ti = i;
    const tj = j;
    // Ranges in start order (an old one first on a tie), as many as fit beside the pieces.
    for (let taken = 0; taken < bound - PIECES && (i < g.i1 || j < g.j1); taken++) {
      if (j >= g.j1 || (i < g.i1 && cmp(r, i * stride, a, j * stride, w) <= 0)) i++;
      else j++;
    }
    // y: start of the first range not taken (undefined: this is the last transaction of the region).
    const oldNext = j >= g.j1 || (i < g.i1 && cmp(r, i * stride, a, j * stride, w) <= 0);
    const y = !(i < g.i1 || j < g.j1) ? undefined : oldNext ? r.slice(i * stride, i * stride + w) : a.slice(j * stride, j * stride + w);
    const yLast = y && below(y);
    const del = new RangeWriter(family, bound);
    const add = new RangeWriter(family, bound);
    if (head !== undefined && x) del.push(concat(a.subarray(head * stride, head * stride + w), below(x)), 0, w);
    if (tail !== undefined && x) del.push(concat(x, r.subarray(tail * stride + w, tail * stride + stride)), 0, w);
    for (let k = ti; k < i; k++) del.push(r, k * stride, k * stride + w);
    // New ranges below y: the one whose head was in, and the ones taken; each cut at y-1.
    const news = head !== undefined ? [head] : [];
    for (let k = tj; k < j; k++) news.push(k);
    head = undefined;
    for (const k of news) {
      const lastOff = k * stride + w;
      if (yLast && cmp(a, lastOff, yLast, 0, w) > 0) {
        add.push(concat(a.subarray(k * stride, k * stride + w), yLast), 0, w);
        head = k;
      } else add.push(a, k * stride, lastOff);
    }
    // The old range that straddles y (the last one touched) keeps its tail [y, last].
    const lastOld = i > ti ? i - 1 : tail;
    tail = undefined;
    if (y && lastOld !== undefined && cmp(r, lastOld * stride + w, y, 0, w) >= 0) {
      add.push(concat(y, r.subarray(lastOld * stride + w, lastOld * stride + stride)), 0, w);
      tail = lastOld;
    }
    out.push({ removed: del.finish(), added: add.finish() });
    x = y;
  }
}

function concat(first: Uint32Array, last: Uint32Array): Uint32Array {
  const d = new Uint32Array(first.length + last.length);
  d.set(first);
  d.set(last, first.length);
  return d;
}
