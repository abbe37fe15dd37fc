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
    /**
     * `avahi` (over D-Bus), `native` (our own one-shot mDNS queries), or `auto`: Avahi while
     * `org.freedesktop.Avahi` is owned on the system bus, native otherwise, switching live.
     */
    backend: z.enum(['auto', 'avahi', 'native']).default('auto'),
    /**
     * Native backend: the interfaces to query on (`["br-lan", "wlan0"]`). Default: every interface
     * that is up, multicast-capable, not loopback, and has an RFC 1918 / 169.254 IPv4 or a ULA IPv6
     * address. `[]` turns native querying off (lookups SERVFAIL, as with Avahi down).
     */
    interfaces: z.array(z.string().regex(/^[\w.:-]{1,15}$/, 'expected an interface name such as "br-lan"')).optional(),
    /**
     * Native backend: a PTR/SRV/TXT lookup that has records ends this long after its last query,
     * ms (responders answer within 120 ms, RFC 6762 §6); with none it waits for `browseWindowMs`.
     */
    collectQuietMs: positiveInt.default(250),
    /** Bound on one lookup, ms: a name nobody answers is NXDOMAIN after this. */
    timeoutMs: positiveInt.default(1000),
    /** PTR/SRV/TXT browses collect until Avahi's AllForNow (native: `collectQuietMs`) or this window, ms. */
    browseWindowMs: positiveInt.default(1000),
    /**
     * A unique-record lookup (A, AAAA, SRV, TXT, …) of a name known to exist — it has records of
     * another type, or names below it — ends NODATA this long after it started, ms, instead of
     * waiting `timeoutMs`: the owner answers unique records at once (RFC 6762 §6), Avahi's first
     * query leaves ~100 ms after the browser starts (avahi-core/query-sched.c
     * AVAHI_QUERY_DEFER_MSEC). At least 50 ms after the name became known. Capped by `timeoutMs`.
     */
    existingNameWaitMs: positiveInt.default(200),
    /**
     * TTL cap of answers to shared PTR browses (service instances), seconds: legacy unicast
     * answers SHOULD NOT carry more than 10 s (RFC 6762 §6.7), and a short TTL is what lets a
     * service published or withdrawn on the LAN show up through Unbound's cache within seconds.
     */
    browseTtl: positiveInt.max(10).default(5),
    /** Avahi reports no TTL; its answers carry this one, seconds (native answers keep the responders' TTLs). */
    ttl: positiveInt.default(120),
    /** Negative answers are cached (and their SOA minimum says) this long, seconds. */
    negativeCacheTtl: nonNegativeInt.default(30),
    /** Cached questions (positive + negative); least recently used evicted first. */
    cacheSize: positiveInt.default(10_000),
    /** Backend lookups running at once (Avahi record browsers; Avahi allows 1024 objects per client). More queue. */
    maxConcurrentLookups: positiveInt.default(256),
    /** Lookups waiting for a slot (in each of the two lanes); beyond this they get SERVFAIL at once. */
    maxQueuedLookups: nonNegativeInt.default(4096),
    /**
     * Of `maxConcurrentLookups`, slots only names answered before may use: a flood of misses (each
     * holding a slot for `timeoutMs`) cannot take them all, and known names wait in a lane of
     * their own that is served first. At least one slot is always left for other lookups.
     */
    reservedLookups: nonNegativeInt.default(32),
    /**
     * A name (and type) counts as known for this long after its last positive answer, seconds.
     * Remembered for at most `cacheSize` names (least recently answered forgotten first).
     */
    knownNameSeconds: positiveInt.default(3600),
    policy: policyConfigSchema.prefault({}),
  })
  .strict();

export type LocalNamesConfig = z.infer<typeof localNamesConfigSchema>;
export type PolicyConfig = z.infer<typeof policyConfigSchema>;
