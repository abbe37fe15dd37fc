import { rangeSetOf } from './builder.js';
import type { EntryRejectReason } from './entry.js';
import { WORDS, type IpFamily, type RangeSet } from './range-set.js';
import { coversRange, subtractRanges, unionRangeSets } from './set-ops.js';
import { spanExceeds } from './words.js';

/**
 * What a routing list must never capture: the router's own, LAN, loopback, link-local, multicast
 * and reserved space, and the ranges IANA's special-purpose registries mark as not globally
 * reachable (RFC 6890; https://www.iana.org/assignments/iana-ipv4-special-registry and
 * …/iana-ipv6-special-registry). Routing any of it into a VPN set breaks the router itself or
 * routes nothing real: documentation and benchmark ranges in a registry are a publisher's mistake.
 * Special-purpose blocks that IANA marks globally reachable (AS112 192.31.196.0/24 and
 * 192.175.48.0/24, AMT 192.52.193.0/24 and 2001:3::/32, NAT64 64:ff9b::/96, Teredo 2001::/32)
 * stay listable.
 */
export const BOGONS: Readonly<Record<IpFamily, readonly string[]>> = {
  ipv4: [
    '0.0.0.0/8', // "this network" (RFC 791)
    '10.0.0.0/8', // RFC 1918
    '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
    '127.0.0.0/8', // loopback
    '169.254.0.0/16', // link-local
    '172.16.0.0/12', // RFC 1918
    '192.0.0.0/24', // IETF protocol assignments (RFC 6890 §2.2.2)
    '192.0.2.0/24', // TEST-NET-1, documentation (RFC 5737)
    '192.88.99.0/24', // 6to4 relay anycast, deprecated (RFC 7526)
    '192.168.0.0/16', // RFC 1918
    '198.18.0.0/15', // benchmarking (RFC 2544)
    '198.51.100.0/24', // TEST-NET-2, documentation (RFC 5737)
    '203.0.113.0/24', // TEST-NET-3, documentation (RFC 5737)
    '224.0.0.0/4', // multicast
    '240.0.0.0/4', // reserved + broadcast
  ],
  ipv6: [
    '::/96', // unspecified, loopback and the deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1)
    // IPv4-mapped (RFC 4291 §2.5.5.2): entries wholly inside are mapped to IPv4 before this guard
    // (see mapIPv4Mapped); what is left here only straddles the block and is cut out of the v6 set.
    '::ffff:0:0/96',
    '64:ff9b:1::/48', // local-use IPv4/IPv6 translation (RFC 8215)
    '100::/64', // discard-only (RFC 6666)
    '2001:2::/48', // benchmarking (RFC 5180)
    '2001:10::/28', // ORCHID, deprecated (RFC 4843)
    '2001:db8::/32', // documentation (RFC 3849)
    // 6to4 (RFC 3056): the relays behind it are deprecated (RFC 7526 §3) and a 2002::/16 address only
    // wraps an IPv4 one; a registry that means that host lists its IPv4 address, which we route.
    '2002::/16',
    '3fff::/20', // documentation (RFC 9637)
    '5f00::/16', // SRv6 SIDs (RFC 9602)
    'fc00::/7', // unique local (RFC 4193)
    'fe80::/10', // link-local
    'fec0::/10', // site-local, deprecated (RFC 3879)
    'ff00::/8', // multicast
  ],
};

/**
 * An IPv6 entry wholly inside ::ffff:0:0/96 (RFC 4291 §2.5.5.2) names an IPv4 host: that notation
 * exists for sockets, and no packet ever carries it as a destination, so in the IPv6 set it would
 * match nothing while the host it names stays unrouted. Rewrites `src` (first [0, 4), last [4, 8),
 * parseEntryInto's layout) to the IPv4 range (first [0], last [1]) and returns true; false for
 * anything else, src untouched.
 */
export function mapIPv4Mapped(src: Uint32Array): boolean {
  for (const off of [0, 4]) if (src[off] !== 0 || src[off + 1] !== 0 || src[off + 2] !== 0xffff) return false;
  src[0] = src[3] ?? 0;
  src[1] = src[7] ?? 0;
  return true;
}

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
      ipv4: rangeSetOf(
        'ipv4',
        ex.filter((e) => !e.includes(':')),
      ),
      ipv6: rangeSetOf(
        'ipv6',
        ex.filter((e) => e.includes(':')),
      ),
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

  /**
   * One address (`words`, its WORDS[family] words from offset 0): `check` of the entry first = last,
   * without building that entry — a single address is never too broad.
   */
  checkAddress(family: IpFamily, words: Uint32Array): 'bogon' | 'excluded' | undefined {
    if (coversRange(this.bogon[family], words, 0, 0)) return 'bogon';
    if (coversRange(this.excluded[family], words, 0, 0)) return 'excluded';
    return undefined;
  }

  /** Remove bogon and excluded space (after build; partial overlaps are cut, not dropped). */
  cut(set: RangeSet): RangeSet {
    return subtractRanges(set, this.cutSets[set.family]);
  }
}
