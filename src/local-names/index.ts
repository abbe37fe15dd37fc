import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Question, ZoneAnswer } from '../lib/dns-wire/types.js';
import { createAvahiBackend } from './avahi-backend.js';
import { createBackendSelector, type BackendSelector } from './backend-selector.js';
import type { LocalNamesConfig } from './config.js';
import { createLocalNamesCore } from './local-names.js';
import { createLocalNamesMetrics, type LocalNamesMetrics } from './metrics.js';
import { createNativeBackend } from './native-backend.js';
import type { LocalResolver } from './resolver.js';

export { localNamesConfigSchema, policyConfigSchema, type LocalNamesConfig, type PolicyConfig } from './config.js';
export type { LocalResolver, BackendQuery, BackendResult } from './resolver.js';

export interface LocalNamesStatus {
  /** The backend new lookups go to (with `auto`, the one active right now). */
  backend: 'avahi' | 'native';
  up: boolean;
}

export interface LocalNamesService {
  resolve(question: Question, signal?: AbortSignal): Promise<ZoneAnswer>;
  status(): LocalNamesStatus;
  close(): Promise<void>;
}

interface Options {
  config: LocalNamesConfig;
  logger: Logger;
  registry: Registry;
  busAddress?: string;
}

function avahi(opts: Options, metrics: LocalNamesMetrics): Promise<LocalResolver> {
  return createAvahiBackend({
    logger: opts.logger.child({ component: 'avahi' }),
    ttl: opts.config.ttl,
    ...(opts.busAddress !== undefined ? { busAddress: opts.busAddress } : {}),
    onLookup: (outcome) => {
      if (outcome === 'timeout') metrics.timeouts.inc({ backend: 'avahi' });
      else if (outcome === 'error') metrics.errors.inc({ backend: 'avahi' });
    },
  });
}

function native(opts: Options, metrics: LocalNamesMetrics): Promise<LocalResolver> {
  return createNativeBackend({
    logger: opts.logger.child({ component: 'native' }),
    collectQuietMs: opts.config.collectQuietMs,
    ...(opts.config.interfaces !== undefined ? { interfaces: opts.config.interfaces } : {}),
    onLookup: (outcome) => {
      if (outcome === 'timeout') metrics.timeouts.inc({ backend: 'native' });
    },
    onPacket: (outcome) => metrics.mdnsPackets.inc({ outcome }),
    onSockets: ({ v4, v6 }) => {
      metrics.mdnsSockets.set({ family: 'ipv4' }, v4);
      metrics.mdnsSockets.set({ family: 'ipv6' }, v6);
    },
  });
}

/** After a backend change, how long a missing unique type waits for its own answer, ms. */
const BACKEND_SETTLE_MS = 5000;

/**
 * `.local` and reverse answers: the configured backend behind the shared cache and policy.
 *
 * - `avahi`: Avahi over D-Bus only (SERVFAIL while it is down).
 * - `native`: our own one-shot mDNS queries only.
 * - `auto`: both are started; lookups go to Avahi while it owns its bus name and to native
 *   otherwise, switching live on NameOwnerChanged (backend-selector.ts). Avahi is preferred because
 *   it keeps a continuously updated cache and hears announcements (RFC 6762 §8.3); native needs no
 *   daemon. The answer cache is NOT flushed on such a switch: both backends see the same LAN, so
 *   what one answered stays true for its TTL, and a flush would send every question to the backend
 *   that just arrived (a freshly started Avahi with an empty cache) at once.
 */
export async function createLocalNames(opts: Options): Promise<LocalNamesService> {
  const { config, logger } = opts;
  const metrics = createLocalNamesMetrics(opts.registry);
  const setActive = (kind: 'avahi' | 'native'): void => {
    metrics.backendActive.set({ backend: 'avahi' }, kind === 'avahi' ? 1 : 0);
    metrics.backendActive.set({ backend: 'native' }, kind === 'native' ? 1 : 0);
  };

  let backend: LocalResolver;
  let selector: BackendSelector | undefined;
  const cleanups: (() => void)[] = [];
  if (config.backend === 'auto') {
    const [a, n] = await Promise.all([avahi(opts, metrics), native(opts, metrics)]);
    selector = createBackendSelector({ preferred: a, fallback: n, logger });
    backend = selector;
    metrics.avahiUp.set(a.isUp() ? 1 : 0);
    cleanups.push(a.onStateChange((up) => metrics.avahiUp.set(up ? 1 : 0)));
    cleanups.push(
      selector.onSwitch((to, from) => {
        metrics.backendSwitches.inc({ to: to.kind });
        setActive(to.kind);
        logger.info(
          { from: from.kind, to: to.kind, up: to.isUp() },
          to.kind === 'avahi' ? 'local-names: avahi-daemon appeared, switching to the Avahi backend' : 'local-names: avahi-daemon went away, switching to the native mDNS backend',
        );
      }),
    );
  } else {
    backend = config.backend === 'avahi' ? await avahi(opts, metrics) : await native(opts, metrics);
    metrics.avahiUp.set(backend.kind === 'avahi' && backend.isUp() ? 1 : 0);
  }
  setActive(backend.kind);

  // A backend that just came up or took over answers late for a while: avahi-daemon probes and
  // announces its host name for ~1–2 s after it starts (RFC 6762 §8.1–8.3) and its cache is
  // empty, so "the owner would have answered by now" does not hold yet. Seen in the lab: an
  // instance's SRV asked just after the switch to a fresh Avahi was answered NODATA at 360 ms.
  const core = createLocalNamesCore({ config, backend: () => backend, metrics, logger, settleMs: BACKEND_SETTLE_MS });
  cleanups.push(backend.onStateChange(() => core.backendChanged()));
  if (selector !== undefined) cleanups.push(selector.onSwitch(() => core.backendChanged()));
  cleanups.push(
    backend.onStateChange((up) => {
      if (config.backend === 'avahi') {
        metrics.avahiUp.set(up ? 1 : 0);
        // Avahi-only: answers cached around an outage may be stale negatives; start fresh when it returns.
        if (up) core.flush();
      }
      logger[up ? 'info' : 'warn']({ backend: backend.kind }, up ? 'local-names: backend up' : 'local-names: backend down, answering SERVFAIL until it returns');
    }),
  );
  logger.info({ configured: config.backend, active: backend.kind, up: backend.isUp() }, 'local-names: backend selected');
  return {
    resolve: (question, signal) => core.resolve(question, signal),
    status: () => ({ backend: backend.kind, up: backend.isUp() }),
    async close() {
      for (const c of cleanups) c();
      await backend.close();
    },
  };
}
