import { z } from 'zod';
import { nftNameSchema } from '../config/common.js';

/** An nft identifier (table, set): what `nft` accepts unquoted (one rule: lib/nft/nft-name.ts). */
const nftName = nftNameSchema('"global" or "force_vpn4"');

/** A named network namespace (`ip netns add NAME` → /run/netns/NAME). */
const netnsName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a namespace name as in `ip netns list`');

/**
 * `lists[].nft`: where one list's addresses go. src/config/schema.ts composes it into `lists[].nft`
 * (blocklist config). At least one of set4/set6; an `ip` table takes only set4, `ip6` only set6.
 */
export const setTargetConfigSchema = z
  .object({
    family: z.enum(['inet', 'ip', 'ip6']).default('inet'),
    table: nftName,
    /** Set of type ipv4_addr, flags interval, without auto-merge. */
    set4: nftName.optional(),
    /** Set of type ipv6_addr, flags interval, without auto-merge. */
    set6: nftName.optional(),
    /** Apply inside this named network namespace (the router keeps WAN in its own). */
    netns: netnsName.optional(),
    /** Create a missing table and set (type, `flags interval`) instead of failing with NFT_SET_MISSING. */
    createSets: z.boolean().default(false),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.set4 === undefined && v.set6 === undefined) ctx.addIssue({ code: 'custom', message: 'set at least one of "set4" and "set6"' });
    if (v.family === 'ip6' && v.set4 !== undefined) ctx.addIssue({ code: 'custom', path: ['set4'], message: 'an ip6 table cannot hold an ipv4_addr set' });
    if (v.family === 'ip' && v.set6 !== undefined) ctx.addIssue({ code: 'custom', path: ['set6'], message: 'an ip table cannot hold an ipv6_addr set' });
  });

export type SetTargetConfig = z.infer<typeof setTargetConfigSchema>;

/**
 * Measured on Linux 6.18 with a listener present (bench/set-sync.bench.ts, README "Kernel
 * memory"): 16.7 KiB of unreclaimable slab per range in a transaction, IPv4 and IPv6 alike — the
 * kernel keeps one notification skb per element (an interval is two) until the commit ends. 6000
 * ranges ≈ 103 MB at the peak of one transaction, under a 128 MB budget; with the ~1.3 KB per range
 * a 1M-range set itself keeps (~130 MB), a 1M cold load peaks under 256 MB (7000 measured 267).
 */
export const DEFAULT_MAX_TRANSACTION_PREFIXES = 6000;

/**
 * A bulk write (a first load, a refill, a difference bigger than maxTransactionPrefixes) while no
 * socket but our own subscription listens to nf_tables notifications: the subscription leaves the
 * group, so the kernel builds none (~0.2 KiB per range instead of 16.7 KiB, measured on Linux
 * 6.18), and each transaction may carry this many ranges: ~5 MB of transient slab. The price is a
 * listener that joins while one commits (an `nft monitor` started just then): the rest of that
 * transaction's elements get notifications, up to 24 000 × 16.7 KiB ≈ 410 MB once. Fewer
 * transactions matter because each commit costs time in proportion to the set's size (~0.13 µs
 * per element already in it): 1M ranges in 43 transactions instead of 167 (README: Kernel memory).
 */
export const DEFAULT_MAX_QUIET_TRANSACTION_PREFIXES = 24_000;

/**
 * `setSync`: limits for every nftables transaction the daemon sends (lists, refills, learned
 * batches). src/config/schema.ts composes it as the top-level `setSync` block.
 */
export const setSyncConfigSchema = z
  .object({
    /**
     * Range (prefix) operations per transaction: adds + deletes, and a flushed set's elements.
     * At least 16, so that a transaction always has room for the pieces of a split region.
     */
    maxTransactionPrefixes: z.number().int().min(16).max(1_000_000).default(DEFAULT_MAX_TRANSACTION_PREFIXES),
    /** Range operations per bulk transaction while nobody but us listens; never below maxTransactionPrefixes (the larger wins). */
    maxQuietTransactionPrefixes: z.number().int().min(16).max(1_000_000).default(DEFAULT_MAX_QUIET_TRANSACTION_PREFIXES),
  })
  .strict();

export type SetSyncConfig = z.infer<typeof setSyncConfigSchema>;
