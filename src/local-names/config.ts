import { z } from 'zod';
import { domainName, nonNegativeInt, positiveInt, regexString } from '../config/common.js';

/** `mdns.policy`: what is answered and how (parity with the Python plugin's environment variables). */
export const policyConfigSchema = z
  .object({
    /** Names answered only when one of these (case-insensitive) regexes matches. Empty = all. */
    acceptNames: z.array(regexString).default([]),
    /** Names answered NXDOMAIN when one of these matches; wins over acceptNames. */
    rejectNames: z.array(regexString).default([]),
    /** Record types answered ("A", "SRV", "TYPE65"). Empty = all. */
    acceptTypes: z.array(z.string()).default([]),
    /** Record types answered NODATA without asking mDNS. */
    rejectTypes: z.array(z.string()).default([]),
    /** `{"retracker.local.": "router.local."}`: looked up under the target, answered under the name asked. */
    aliases: z.record(domainName, domainName).default({}),
    /** Zone-file lines answered without mDNS: `router.local. A 10.0.0.1`, `router.local. 300 AAAA fd00::1`. */
    staticRecords: z.array(z.string()).default([]),
    /** Drop AAAA in fe80::/10: a unicast client cannot use an address without its scope. */
    dropLinkLocalAAAA: z.boolean().default(true),
  })
  .strict();

/** `mdns` block: the backend and the cache in front of it. */
export const localNamesConfigSchema = z
  .object({
    /** `avahi`, `native`, or `auto` (Avahi when its bus name is present). */
    backend: z.enum(['auto', 'avahi', 'native']).default('auto'),
    /** Bound on one lookup, ms: a name nobody answers is NXDOMAIN after this. */
    timeoutMs: positiveInt.default(1000),
    /** PTR/SRV/TXT browses collect until Avahi's AllForNow or this window, ms. */
    browseWindowMs: positiveInt.default(1000),
    /** Avahi reports no TTL; positive answers carry this one, seconds. */
    ttl: positiveInt.default(120),
    /** Negative answers are cached (and their SOA minimum says) this long, seconds. */
    negativeCacheTtl: nonNegativeInt.default(30),
    /** Cached questions (positive + negative); least recently used evicted first. */
    cacheSize: positiveInt.default(10_000),
    /** Backend lookups running at once (Avahi record browsers; Avahi allows 1024 objects per client). More queue. */
    maxConcurrentLookups: positiveInt.default(256),
    /** Lookups waiting for a slot; beyond this they get SERVFAIL at once. */
    maxQueuedLookups: nonNegativeInt.default(4096),
    policy: policyConfigSchema.prefault({}),
  })
  .strict();

export type LocalNamesConfig = z.infer<typeof localNamesConfigSchema>;
export type PolicyConfig = z.infer<typeof policyConfigSchema>;
