import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SidecarError } from '../errors.js';
import type { Question, ZoneAnswer } from '../lib/dns-wire/types.js';
import { createAvahiBackend } from './avahi-backend.js';
import type { LocalNamesConfig } from './config.js';
import { createLocalNamesCore } from './local-names.js';
import { createLocalNamesMetrics } from './metrics.js';
import type { LocalResolver } from './resolver.js';

export { localNamesConfigSchema, policyConfigSchema, type LocalNamesConfig, type PolicyConfig } from './config.js';
export type { LocalResolver, BackendQuery, BackendResult } from './resolver.js';

export interface LocalNamesStatus {
  backend: 'avahi' | 'native';
  up: boolean;
}

export interface LocalNamesService {
  resolve(question: Question, signal?: AbortSignal): Promise<ZoneAnswer>;
  status(): LocalNamesStatus;
  close(): Promise<void>;
}

/**
 * `.local` and reverse answers: the configured backend behind the shared cache and policy.
 * `auto` means Avahi until the native multicast-DNS backend lands (issue #5); `native` refuses to
 * start with a clear error rather than silently answering nothing.
 */
export async function createLocalNames(opts: {
  config: LocalNamesConfig;
  logger: Logger;
  registry: Registry;
  busAddress?: string;
}): Promise<LocalNamesService> {
  const { config, logger } = opts;
  if (config.backend === 'native') {
    throw new SidecarError('BACKEND_UNAVAILABLE', 'local-names', 'the native multicast-DNS backend is not available in this version; set mdns.backend to "avahi" or "auto"');
  }
  const metrics = createLocalNamesMetrics(opts.registry);
  const backend: LocalResolver = await createAvahiBackend({
    logger: logger.child({ component: 'avahi' }),
    ttl: config.ttl,
    ...(opts.busAddress !== undefined ? { busAddress: opts.busAddress } : {}),
    onLookup: (outcome) => {
      if (outcome === 'timeout') metrics.timeouts.inc({ backend: 'avahi' });
      else if (outcome === 'error') metrics.errors.inc({ backend: 'avahi' });
    },
  });
  const core = createLocalNamesCore({ config, backend: () => backend, metrics, logger });
  metrics.avahiUp.set(backend.isUp() ? 1 : 0);
  const unsubscribe = backend.onStateChange((up) => {
    metrics.avahiUp.set(up ? 1 : 0);
    // Answers cached while Avahi was away may be stale negatives: start fresh when it returns.
    if (up) core.flush();
    logger[up ? 'info' : 'warn']({ backend: backend.kind }, up ? 'local-names: backend up' : 'local-names: backend down, answering SERVFAIL until it returns');
  });
  return {
    resolve: (question, signal) => core.resolve(question, signal),
    status: () => ({ backend: backend.kind, up: backend.isUp() }),
    async close() {
      unsubscribe();
      await backend.close();
    },
  };
}
