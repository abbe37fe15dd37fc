/**
 * The canonical model of one address family: sorted, merged (non-overlapping, non-adjacent)
 * inclusive address ranges, packed in a Uint32Array so a million ranges cost ~8 MB (IPv4) or
 * ~32 MB (IPv6) instead of millions of objects. Immutable once built.
 *
 * Layout: each address is WORDS[family] big-endian 32-bit words (IPv4 1, IPv6 4); range i occupies
 * data[i*stride .. (i+1)*stride) as [first…, last…], stride = 2 * WORDS[family].
 *
 * This model — not nft's auto-merge — is the truth that set-sync makes the kernel equal to.
 * (Builders, set algebra, diff and nft element formatting live beside this file.)
 */
export type IpFamily = 'ipv4' | 'ipv6';

export const WORDS: Readonly<Record<IpFamily, 1 | 4>> = { ipv4: 1, ipv6: 4 };

export interface RangeSet {
  readonly family: IpFamily;
  /** Number of ranges. */
  readonly size: number;
  readonly data: Uint32Array;
}
