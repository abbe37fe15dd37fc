import { z } from 'zod';
import { positiveInt } from '../config/common.js';
import { parseEntry } from '../lib/ip-prefix/entry.js';
import { SOURCE_CONTAINS, SOURCE_FORMATS } from './formats/index.js';

/**
 * One list without its `nft` block: src/config/schema.ts composes `lists: [{...this, nft: <set-sync's schema>}]`
 * with `listConfigSchema.extend({ nft })`. Registry URLs are plain configuration (the
 * registry has moved to mirrors before).
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "30m", "1h", "1h30m", "1d" -> ms; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms;
}

const MIN_REFRESH_MS = 60_000;

/**
 * The registry's IP endpoint makes a set of ~42k elements today; 500k leaves >10× room (lists such
 * as the z-i dump included) while a list at the cap costs ~41 MB of heap to parse and ~90 MB of
 * kernel memory in an interval set (187 B per element, measured: src/blocklist/README.md "Caps").
 * The download limit alone (64 MiB) admits ~4M addresses: 540 MB of RSS, over the unit's MemoryMax.
 */
export const DEFAULT_MAX_ENTRIES = 500_000;
/**
 * Domains cost no kernel memory; 2M is ~2× the million the domain matcher is sized for and parses
 * in ~280 MB (measured), a tripwire for a runaway source rather than a comfortable operating point.
 */
export const DEFAULT_MAX_DOMAINS = 2_000_000;

/** Duration text -> milliseconds; at least a minute, so a typo cannot hammer a volunteer-run registry. */
export const refreshDuration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as "30m", "1h" or "1h30m"' });
    return z.NEVER;
  }
  if (ms < MIN_REFRESH_MS) {
    ctx.addIssue({ code: 'custom', message: `refresh must be at least 1m (got ${s})` });
    return z.NEVER;
  }
  return ms;
});

export const listSourceSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    /** `json` (array of strings, or objects with a `domains` array), `lines` (.lst), `csv` (z-i dump). */
    format: z.enum(SOURCE_FORMATS),
    /** What the source lists. Address-looking entries in a `domains` source still count as addresses. */
    contains: z.enum(SOURCE_CONTAINS),
    /** Deadline for the whole download, retries included (default 120 s). */
    timeoutMs: positiveInt.optional(),
    /** Limit on the decoded body (default 64 MiB). */
    maxBytes: positiveInt.optional(),
  })
  .strict();

/** An address, CIDR or a-b range (what `exclude` holds). */
const entryText = z.string().refine((s) => parseEntry(s).kind === 'entry', { message: 'expected an IP address, CIDR or "a-b" range' });

export const listConfigSchema = z
  .object({
    /** Names the list in metrics, logs, the snapshot file and `sync --list`. */
    name: z.string().regex(/^[a-z0-9_-]+$/, 'expected lowercase letters, digits, "_" or "-"'),
    /** How often to download; ±10% jitter is added. Parsed to milliseconds. */
    refresh: refreshDuration.default(3_600_000),
    sources: z
      .array(listSourceSchema)
      .min(1)
      .refine((s) => new Set(s.map((x) => x.url)).size === s.length, { message: 'a URL appears twice; each source is tracked by its URL' }),
    /** Never in the list: prefixes are cut around these (the VPN endpoint, a hosted service of yours). */
    exclude: z.array(entryText).default([]),
    /**
     * Caps on what the list may hold, checked while a source is parsed (it stops at the cap instead
     * of building millions of entries first): address entries (each becomes at most one nft set
     * element) across all sources, and domains. See DEFAULT_MAX_ENTRIES for the sizing.
     */
    maxEntries: positiveInt.default(DEFAULT_MAX_ENTRIES),
    maxDomains: positiveInt.default(DEFAULT_MAX_DOMAINS),
    /** A download parsing to fewer than minRatio × the last good count keeps the last good data. */
    minRatio: z.number().min(0).max(1).default(0.5),
    /** Entries shorter than these are rejected whole (0.0.0.0/0 must never mean "route everything"). */
    minPrefix: z
      .object({ ipv4: z.int().min(0).max(32).default(8), ipv6: z.int().min(0).max(128).default(16) })
      .strict()
      .prefault({}),
  })
  .strict();

export type ListConfig = z.infer<typeof listConfigSchema>;
export type ListSourceConfig = z.infer<typeof listSourceSchema>;
