import { z } from 'zod';
import { hostPort, nftNameSchema, positiveInt } from '../config/common.js';

/**
 * The learner's config blocks, composed into src/config/schema.ts:
 *   dnstap:  dnstapConfigSchema.optional()      — no block, no dnstap listener
 *   resolve: resolveConfigSchema.prefault({})
 *   admin:   adminConfigSchema.prefault({})
 *   lists[]: listConfigSchema.extend({ nft: setTargetConfigSchema, learn: learnConfigSchema.optional() })
 * A list without `learn` learns nothing (its domains are still matched by `lookup`).
 */

const nftName = nftNameSchema('"learned4"');
const seconds = z
  .int()
  .min(1)
  .max(30 * 86_400);

export const dnstapConfigSchema = z
  .object({
    /** Unix socket Unbound's `dnstap-socket-path` points at (Unbound connects; we listen). */
    socket: z.string().min(1),
    /** Socket file mode; default 0660 (Unbound runs as another user). */
    mode: z.int().min(0).max(0o777).optional(),
    /** Group name or numeric gid to chown the socket to (Unbound's group). */
    group: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional(),
  })
  .strict();

export const resolveConfigSchema = z
  .object({
    /** Proactive resolution of listed names; off = dnstap learning only. */
    enabled: z.boolean().default(true),
    /** Where proactive queries go (normally the local Unbound, so its cache warms too). */
    upstream: hostPort.default('127.0.0.1:53'),
    /** Queries in flight at once. */
    concurrency: positiveInt.max(1024).default(32),
    /** Queries per second, A and AAAA counted separately. */
    qps: positiveInt.max(100_000).default(200),
    /** Per-query deadline. */
    timeoutMs: positiveInt.max(60_000).default(3000),
    /** Learned timeouts are the answer's TTL clamped to [minTtl, maxTtl] seconds (lists may override). */
    minTtl: seconds.default(300),
    maxTtl: seconds.default(86_400),
    /** First retry after NXDOMAIN/SERVFAIL/no address/timeout; doubles per failure up to backoffMax. */
    backoffMin: seconds.default(3600),
    backoffMax: seconds.default(7 * 86_400),
  })
  .strict()
  .refine((r) => r.minTtl <= r.maxTtl, { message: 'minTtl must not exceed maxTtl', path: ['minTtl'] })
  .refine((r) => r.backoffMin <= r.backoffMax, { message: 'backoffMin must not exceed backoffMax', path: ['backoffMin'] });

export const adminConfigSchema = z
  .object({
    /** Unix socket of the admin API (mode 0600: only root edits routing). */
    socket: z.string().min(1).default('/run/unbound-sidecar/admin.sock'),
  })
  .strict();

/** `lists[].learn`: the learned sets live in the list's nft table/netns (`lists[].nft`). */
export const learnConfigSchema = z
  .object({
    /** ipv4_addr set with `flags timeout`. */
    set4: nftName.optional(),
    /** ipv6_addr set with `flags timeout`. */
    set6: nftName.optional(),
    minTtl: seconds.optional(),
    maxTtl: seconds.optional(),
    /** Resolve this list's names proactively (when resolve.enabled). */
    resolve: z.boolean().default(true),
  })
  .strict()
  .refine((l) => l.set4 !== undefined || l.set6 !== undefined, { message: 'set at least one of "set4" and "set6"' });

export type DnstapConfig = z.infer<typeof dnstapConfigSchema>;
export type ResolveConfig = z.infer<typeof resolveConfigSchema>;
export type AdminConfig = z.infer<typeof adminConfigSchema>;
export type LearnConfig = z.infer<typeof learnConfigSchema>;

/** What createLearner needs of one list (a structural subset of the composed list config). */
export interface LearnerListConfig {
  readonly name: string;
  readonly exclude: readonly string[];
  readonly minPrefix: { readonly ipv4: number; readonly ipv6: number };
  readonly nft: { readonly family: 'inet' | 'ip' | 'ip6'; readonly table: string; readonly netns?: string | undefined; readonly createSets: boolean };
  readonly learn?: LearnConfig | undefined;
}

export interface LearnerConfig {
  readonly dnstap?: DnstapConfig | undefined;
  readonly resolve: ResolveConfig;
  readonly admin: AdminConfig;
  readonly lists: readonly LearnerListConfig[];
}
