/**
 * "Is this name, or a name it sits under, listed?" for the registry's domain lists:
 * ~600k–1M entries, asked for every answer dnstap shows us. Pure, no I/O, immutable once built
 * (a runtime addition builds a small second matcher or rebuilds; both are cheap next to a refresh).
 *
 * Semantics: an entry matches the name itself and every name below it, on label boundaries only —
 * `example.com` matches `example.com` and `a.b.example.com`, never `notexample.com` nor `com`. A
 * `*.example.com` entry means the same thing (the registry's `*.` says "and all subdomains", and its
 * apex is meant too), so it is stored as `example.com`. Lookups fold ASCII case (RFC 4343) and
 * ignore one trailing dot.
 *
 * Why this layout (bench/domain-match.bench.ts, numbers in bench/results/domain-match.json): a JS
 * `Set` of 1M strings costs ~3× the memory of the bytes it holds (a heap object per string plus the
 * table) and every lookup slices a new string per suffix to hash it. Here all entries live in one
 * byte buffer as `[len][ascii bytes]` records and an open-addressing table (load ≤ 0.5, linear
 * probing) holds offsets into it. A lookup walks the query once from the right, hashing as it goes
 * (FNV-1a over the *reversed* name), so the hash of every suffix that starts at a label boundary is
 * ready when the walk reaches that boundary: one probe per label, no allocation.
 *
 * Entries are expected normalised already (`normaliseDomain` in domain-name.ts: lowercase, IDN →
 * punycode); here we only re-apply the cheap parts (case, `*.`, trailing dot) and reject anything
 * that is not LDH/underscore ASCII — a name with non-ASCII or escaped bytes can never equal a
 * punycode entry, so such lookups stop early instead of probing.
 */

import { MAX_TEXT, writeEntry } from './domain-name.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export interface DomainMatcherBuild {
  readonly matcher: DomainMatcher;
  /** Entries kept (after de-duplication; `*.a.b` and `a.b` are one entry). */
  readonly entries: number;
  readonly duplicates: number;
  /** Entries that are not a valid ASCII domain name (unnormalised IDN, spaces, empty labels, > 253). */
  readonly rejected: number;
}

export class DomainMatcher {
  private constructor(
    /** `[len][bytes…]` records, back to back. */
    private readonly data: Uint8Array,
    /** Offset + 1 of a record, 0 = empty slot. Length is a power of two. */
    private readonly slots: Uint32Array,
    readonly size: number,
  ) {}

  static readonly empty: DomainMatcher = new DomainMatcher(new Uint8Array(0), new Uint32Array(1), 0);

  /** Builds from list entries; never throws on bad entries (they are counted). */
  static build(entries: readonly string[]): DomainMatcherBuild {
    let bound = 0;
    for (const e of entries) bound += Math.min(e.length, MAX_TEXT + 8) + 1;
    const data = new Uint8Array(bound);
    let capacity = 2;
    while (capacity < entries.length * 2) capacity *= 2;
    const slots = new Uint32Array(capacity);
    const mask = capacity - 1;
    let used = 0;
    let size = 0;
    let duplicates = 0;
    let rejected = 0;
    for (const raw of entries) {
      // Normalise straight into the buffer at `used`; the record is kept only by advancing `used`.
      const len = writeEntry(raw, data, used + 1);
      if (len < 0) {
        rejected++;
        continue;
      }
      let h = FNV_OFFSET;
      for (let i = used + len; i > used; i--) h = Math.imul(h ^ (data[i] as number), FNV_PRIME);
      let slot = fmix(h) & mask;
      let dup = false;
      for (;;) {
        const v = slots[slot] as number;
        if (v === 0) break;
        if (data[v - 1] === len && sameBytes(data, v, used + 1, len)) {
          dup = true;
          break;
        }
        slot = (slot + 1) & mask;
      }
      if (dup) {
        duplicates++;
        continue;
      }
      data[used] = len;
      slots[slot] = used + 1;
      used += len + 1;
      size++;
    }
    // Give back the slack of the upper bound (long raw entries, duplicates, rejects).
    const matcher = new DomainMatcher(data.slice(0, used), slots, size);
    return { matcher, entries: size, duplicates, rejected };
  }

  /**
   * The listed entry that covers `name` (the broadest one when several do: the walk goes from the
   * TLD inwards and stops at the first hit), or undefined. `name` is presentation form as
   * `readName` prints it; a label with a `\` escape or non-ASCII character ends the walk.
   */
  match(name: string): string | undefined {
    const off = this.find(name);
    if (off < 0) return undefined;
    const len = this.data[off] as number;
    let out = '';
    for (let i = off + 1; i <= off + len; i++) out += String.fromCharCode(this.data[i] as number);
    return out;
  }

  /** Like `match`, without building the entry string (the per-answer hot path). */
  matches(name: string): boolean {
    return this.find(name) >= 0;
  }

  /** Bytes held by this matcher (both typed arrays; the JS object itself is negligible). */
  get byteLength(): number {
    return this.data.byteLength + this.slots.byteLength;
  }

  /** Record offset of the broadest entry covering `name`, or -1. */
  private find(name: string): number {
    if (this.size === 0) return -1;
    let end = name.length;
    if (end > 0 && name.charCodeAt(end - 1) === 0x2e) end--; // absolute form
    if (end === 0 || end > MAX_TEXT) return -1;
    let h = FNV_OFFSET;
    for (let i = end - 1; i >= 0; i--) {
      let c = name.charCodeAt(i);
      if (c === 0x2e) {
        if (i + 1 === end || i === 0) return -1; // empty label: not a name
        if (name.charCodeAt(i - 1) === 0x5c && escapedDot(name, i)) return -1;
        const off = this.probe(fmix(h), name, i + 1, end);
        if (off >= 0) return off;
      } else if (c >= 0x41 && c <= 0x5a) {
        c |= 0x20;
      } else if (c === 0x5c || c > 0x7e) {
        return -1; // an escaped or non-ASCII byte: no punycode entry has one
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    return this.probe(fmix(h), name, 0, end);
  }

  private probe(hash: number, name: string, start: number, end: number): number {
    const len = end - start;
    const { data, slots } = this;
    const mask = slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const v = slots[slot] as number;
      if (v === 0) return -1;
      if (data[v - 1] === len && sameText(data, v, name, start, len)) return v - 1;
      slot = (slot + 1) & mask;
    }
  }
}

/** `data[at…]` equals `name[start…start+len)` with A–Z folded (entries are stored lowercase). */
function sameText(data: Uint8Array, at: number, name: string, start: number, len: number): boolean {
  for (let j = 0; j < len; j++) {
    let c = name.charCodeAt(start + j);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (data[at + j] !== c) return false;
  }
  return true;
}

function sameBytes(data: Uint8Array, a: number, b: number, len: number): boolean {
  for (let j = 0; j < len; j++) if (data[a + j] !== data[b + j]) return false;
  return true;
}

/** A dot preceded by an odd run of backslashes is `\.`, a dot inside a label (RFC 1035 §5.1). */
function escapedDot(name: string, dot: number): boolean {
  let n = 0;
  for (let k = dot - 1; k >= 0 && name.charCodeAt(k) === 0x5c; k--) n++;
  return n % 2 === 1;
}

/** murmur3's finaliser: FNV's low bits alone cluster under a power-of-two mask. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
