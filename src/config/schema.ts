import { z } from 'zod';
import { dnsConfigSchema } from '../dns-server/config.js';
import { dnsFrontConfigSchema } from '../dns-front/config.js';
import { localNamesConfigSchema } from '../local-names/config.js';
import { httpConfigSchema } from '../http/config.js';
import { listConfigSchema } from '../blocklist/config.js';
import { setSyncConfigSchema, setTargetConfigSchema } from '../set-sync/config.js';
import { adminConfigSchema, dnstapConfigSchema, learnConfigSchema, resolveConfigSchema } from '../learner/config.js';

/**
 * The whole config file. Each capability owns its block's schema (`<capability>/config.ts`);
 * this file only composes them. Every key has a default, so `{}` (or no file) is a working config.
 */
export const configSchema = z
  .object({
    dns: dnsConfigSchema.prefault({}),
    /** The LAN's resolver address in front of Unbound (absent: clients ask Unbound directly). */
    front: dnsFrontConfigSchema.optional(),
    mdns: localNamesConfigSchema.prefault({}),
    metrics: httpConfigSchema.prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
      .strict()
      .prefault({}),
    /** Registry lists and the nftables sets each one keeps in sync. */
    lists: z.array(listConfigSchema.extend({ nft: setTargetConfigSchema, learn: learnConfigSchema.optional() })).default([]),
    /** Limits on every nftables transaction (kernel memory while it commits). */
    setSync: setSyncConfigSchema.prefault({}),
    /** Unbound's dnstap stream: answers for listed names teach the learned sets. */
    dnstap: dnstapConfigSchema.optional(),
    /** Proactive resolution of listed names. */
    resolve: resolveConfigSchema.prefault({}),
    /** The local admin API (`domains`, `lookup`). */
    admin: adminConfigSchema.prefault({}),
    stateDir: z.string().min(1).default('/var/lib/unbound-sidecar'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/**
 * Which capability folder (src/<folder>/config.ts) owns each top-level key, where the key is not
 * the folder's name: the keys are what users wrote before the folders existed (`mdns` for the
 * .local answers, `metrics` for the HTTP server) and stay. `undefined`: the daemon's own (no
 * capability). A test checks that every key is here and every folder exists.
 */
export const CONFIG_KEY_OWNERS: Readonly<Record<keyof Config, string | undefined>> = {
  dns: 'dns-server',
  front: 'dns-front',
  mdns: 'local-names',
  metrics: 'http',
  log: undefined,
  lists: 'blocklist',
  setSync: 'set-sync',
  dnstap: 'learner',
  resolve: 'learner',
  admin: 'learner',
  stateDir: undefined,
};
