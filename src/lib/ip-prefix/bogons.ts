import { rangeSetOf } from './builder.js';
import type { EntryRejectReason } from './entry.js';
import { WORDS, type IpFamily, type RangeSet } from './range-set.js';
import { coversRange, subtractRanges, unionRangeSets } from './set-ops.js';
import { spanExceeds } from './words.js';

/**
 * What a routing list must never capture (issue #3 item 2): the router's own, LAN, loopback,
 * link-local, multicast and reserved space. Routing any of it into a VPN set breaks the router itself.
 */
export const BOGONS: Readonly<Record<IpFamily, readonly string[]>> = {
  ipv4: [
    '0.0.0.0/8', // "this network" (RFC 791)
    '10.0.0.0/8', // RFC 1918
    '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
    '127.0.0.0/8', // loopback
    '169.254.0.0/16', // link-local
    '172.16.0.0/12', // RFC 1918
    '192.168.0.0/16', // RFC 1918
    '224.0.0.0/4', // multicast
    '240.0.0.0/4', // reserved + broadcast
  ],
  ipv6: [
    '::/128', // unspecified
    '::1/128', // loopback
    'fc00::/7', // unique local (RFC 4193)
    'fe80::/10', // link-local
    'ff00::/8', // multicast
  ],
};

export interface MinPrefix {
  ipv4: number;
  ipv6: number;
}

export const DEFAULT_MIN_PREFIX: Readonly<MinPrefix> = { ipv4: 8, ipv6: 16 };

const bogonSets: Record<IpFamily, RangeSet> = {
  ipv4: rangeSetOf('ipv4', BOGONS.ipv4),
  ipv6: rangeSetOf('ipv6', BOGONS.ipv6),
};

/**
 * The per-list entry guard. `check` rejects whole entries that are too broad (shorter than
 * minPrefix: 0.0.0.0/0 must not become "route everything"), or lie wholly inside a bogon or an
 * excluded range (counted by reason). `cut` then removes bogon and excluded space from what is left,
 * so 10.0.0.0/7 keeps 11/8 and a /24 around an excluded VPN endpoint keeps its other 255 addresses.
 */
export class EntryGuard {
  private readonly minPrefix: MinPrefix;
  private readonly bogon: Record<IpFamily, RangeSet>;
  private readonly excluded: Record<IpFamily, RangeSet>;
  private readonly cutSets: Record<IpFamily, RangeSet>;

  /** `exclude`: trusted entry texts (validated by the config schema); throws on anything else. */
  constructor(opts: { minPrefix?: MinPrefix; exclude?: readonly string[] } = {}) {
    this.minPrefix = opts.minPrefix ?? DEFAULT_MIN_PREFIX;
    this.bogon = bogonSets;
    const ex = opts.exclude ?? [];
    this.excluded = {
      ipv4: rangeSetOf('ipv4', ex.filter((e) => !e.includes(':'))),
      ipv6: rangeSetOf('ipv6', ex.filter((e) => e.includes(':'))),
    };
    this.cutSets = {
      ipv4: unionRangeSets([this.bogon.ipv4, this.excluded.ipv4]),
      ipv6: unionRangeSets([this.bogon.ipv6, this.excluded.ipv6]),
    };
  }

  /** Entry at src: first [0, w), last [w, 2w) (parseEntryInto's layout). */
  check(family: IpFamily, src: Uint32Array): EntryRejectReason | undefined {
    const w = WORDS[family];
    if (spanExceeds(src, 0, w, w, 32 * w - this.minPrefix[family])) return 'too-broad';
    if (coversRange(this.bogon[family], src, 0, w)) return 'bogon';
    if (coversRange(this.excluded[family], src, 0, w)) return 'excluded';
    return undefined;
  }

  /** Remove bogon and excluded space (after build; partial overlaps are cut, not dropped). */
  cut(set: RangeSet): RangeSet {
    return subtractRanges(set, this.cutSets[set.family]);
  }
}
