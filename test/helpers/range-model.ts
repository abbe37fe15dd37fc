/**
 * Deterministic address models for set-sync tests and benchmarks: `n` ranges per call, a mix of
 * single addresses, CIDR prefixes and odd ranges with random gaps, v4 from 11.0.0.0 and v6 from
 * 2a00::, built through the real RangeSetBuilder. `churn` changes ~`fraction` of them: deletes some,
 * widens some (an interval that extends), and adds new ones.
 */
import { RangeSetBuilder, WORDS, type IpFamily, type RangeSet } from '../../src/lib/ip-prefix/index.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Raw (unmerged) ranges as a flat Uint32Array of [first…, last…]. */
function rawRanges(family: IpFamily, n: number, seed: number): Uint32Array {
  const w = WORDS[family];
  const r = rng(seed);
  const out = new Uint32Array(n * 2 * w);
  // v4: word 0 walks from 11.0.0.0; v6: word 0 = 2a00:0000 + i-th /32 step on word 1.
  let cur = family === 'ipv4' ? 0x0b000000 : 0;
  for (let i = 0; i < n; i++) {
    cur += 2 + Math.floor(r() * 200);
    const kind = r();
    const size = kind < 0.5 ? 1 : kind < 0.85 ? 2 ** (2 + Math.floor(r() * 6)) : 3 + Math.floor(r() * 40);
    if (kind >= 0.5 && kind < 0.85) cur = Math.ceil(cur / size) * size; // CIDR-aligned
    const off = i * 2 * w;
    if (family === 'ipv4') {
      out[off] = cur >>> 0;
      out[off + 1] = (cur + size - 1) >>> 0;
    } else {
      out[off] = 0x2a000000;
      out[off + 1] = Math.floor(cur / 65536);
      out[off + 2] = (cur % 65536) * 65536;
      out[off + 3] = 0;
      out[off + 4] = 0x2a000000;
      out[off + 5] = Math.floor(cur / 65536);
      out[off + 6] = (cur % 65536) * 65536;
      out[off + 7] = size - 1;
    }
    cur += size;
  }
  return out;
}

function build(family: IpFamily, raw: Uint32Array, keep: (i: number) => boolean = () => true): RangeSet {
  const w = WORDS[family];
  const n = raw.length / (2 * w);
  const b = new RangeSetBuilder(family, n);
  for (let i = 0; i < n; i++) if (keep(i)) b.addWords(raw, i * 2 * w, i * 2 * w + w);
  return b.build();
}

export function model(family: IpFamily, n: number, seed = 1): RangeSet {
  return build(family, rawRanges(family, n, seed));
}

/** ~fraction of ranges changed: a third deleted, a third widened by one address, a third added elsewhere. */
export function churn(family: IpFamily, n: number, fraction: number, seed = 1): RangeSet {
  const w = WORDS[family];
  const raw = rawRanges(family, n, seed);
  const every = Math.max(1, Math.round(3 / fraction));
  for (let i = 1; i < n; i += every) raw[i * 2 * w + 2 * w - 1] = (raw[i * 2 * w + 2 * w - 1]! + 1) >>> 0; // widen
  const extra = rawRanges(family, Math.ceil((n * fraction) / 3), seed + 7777);
  // Move the additions far away from the base data (v4: 150.0.0.0+, v6: 2a01::).
  for (let i = 0; i < extra.length; i += w) extra[i] = family === 'ipv4' ? (extra[i]! - 0x0b000000 + 0x96000000) >>> 0 : 0x2a010000;
  const b = new RangeSetBuilder(family, n + extra.length / (2 * w));
  for (let i = 0; i < n; i++) if (i % every !== 0) b.addWords(raw, i * 2 * w, i * 2 * w + w);
  for (let i = 0; i < extra.length / (2 * w); i++) b.addWords(extra, i * 2 * w, i * 2 * w + w);
  return b.build();
}

export { build as buildRaw };
