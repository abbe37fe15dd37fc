import { parseAddress, prefixToRange, RangeSetBuilder, WORDS, type IpFamily, type RangeSet } from '../lib/ip-prefix/index.js';
import type { NftElementJson } from '../lib/nft/nft-json.js';

/**
 * The kernel's elements as an *exact* RangeSet: sorted but not merged, because a delete must name
 * an element as stored (two adjacent elements stay two). Undefined when an element is not of the
 * family or elements overlap (not a set we can diff against: the caller reloads it whole).
 */
export function exactFromElements(family: IpFamily, elements: readonly NftElementJson[]): RangeSet | undefined {
  const w = WORDS[family];
  const stride = 2 * w;
  const data = new Uint32Array(elements.length * stride);
  let n = 0;
  for (const e of elements) {
    const off = n * stride;
    if (typeof e === 'string') {
      const a = parseAddress(e);
      if (a?.family !== family) return undefined;
      data.set(a.words, off);
      data.set(a.words, off + w);
    } else if ('prefix' in e) {
      const a = parseAddress(e.prefix.addr);
      if (a?.family !== family || e.prefix.len < 0 || e.prefix.len > 32 * w) return undefined;
      data.set(a.words, off);
      prefixToRange(data, off, off + w, w, e.prefix.len);
    } else {
      const f = parseAddress(e.range[0]);
      const l = parseAddress(e.range[1]);
      if (f?.family !== family || l?.family !== family) return undefined;
      data.set(f.words, off);
      data.set(l.words, off + w);
    }
    n++;
  }
  // nft lists interval sets in address order already; sort anyway rather than trust it.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => cmpAt(data, x * stride, y * stride, w));
  const sorted = new Uint32Array(n * stride);
  order.forEach((src, dst) => sorted.set(data.subarray(src * stride, (src + 1) * stride), dst * stride));
  for (let i = 1; i < n; i++) if (cmpAt(sorted, (i - 1) * stride + w, i * stride, w) >= 0) return undefined;
  return { family, size: n, data: sorted };
}

/** `set` when its ranges are sorted and disjoint (a set we can diff against), else undefined. */
export function exactIfDisjoint(set: RangeSet): RangeSet | undefined {
  const w = WORDS[set.family];
  const stride = 2 * w;
  for (let i = 1; i < set.size; i++) if (cmpAt(set.data, (i - 1) * stride + w, i * stride, w) >= 0) return undefined;
  return set;
}

/** What the elements cover, merged (for comparing coverage with a model). */
export function coverageOf(exact: RangeSet): RangeSet {
  const b = new RangeSetBuilder(exact.family, exact.size);
  const stride = 2 * WORDS[exact.family];
  for (let i = 0; i < exact.size; i++) b.addWords(exact.data, i * stride, i * stride + WORDS[exact.family]);
  return b.build();
}

function cmpAt(d: Uint32Array, a: number, b: number, w: number): number {
  for (let k = 0; k < w; k++) {
    const x = d[a + k] ?? 0;
    const y = d[b + k] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
