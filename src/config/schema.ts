import { z } from 'zod';
import { dnsConfigSchema } from '../dns-server/config.js';
import { localNamesConfigSchema } from '../local-names/config.js';
import { httpConfigSchema } from '../http/config.js';

/**
 * The whole config file. Each capability owns its block's schema (`<capability>/config.ts`);
 * this file only composes them. Every key has a default, so `{}` (or no file) is a working config.
 */
export const configSchema = z
  .object({
    dns: dnsConfigSchema.prefault({}),
    mdns: localNamesConfigSchema.prefault({}),
    metrics: httpConfigSchema.prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
      .strict()
      .prefault({}),
    stateDir: z.string().min(1).default('/var/lib/unbound-sidecar'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
