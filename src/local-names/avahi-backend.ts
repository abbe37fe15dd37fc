import type { Logger } from 'pino';
import { AvahiConnection, isAvahiPresent as probeAvahi } from '../lib/avahi/connection.js';
import { browseRecords } from '../lib/avahi/record-browser.js';
import type { ResourceRecord } from '../lib/dns-wire/types.js';
import type { BackendQuery, BackendResult, LocalResolver } from './resolver.js';

/** How one lookup ended, for the caller's metrics (`timeout` and `none` both answer `none`). */
export type AvahiLookupOutcome = 'records' | 'none' | 'timeout' | 'error' | 'unavailable';

export interface AvahiBackendOptions {
  readonly logger: Logger;
  /** Avahi reports no TTL: every record carries this one, seconds. */
  readonly ttl: number;
  /** D-Bus address; default `DBUS_SYSTEM_BUS_ADDRESS`, else the standard system bus socket. */
  readonly busAddress?: string;
  readonly onLookup?: (outcome: AvahiLookupOutcome) => void;
  /** How long start-up waits to learn whether Avahi is there, ms (default 1500). Never fails. */
  readonly settleMs?: number;
  /** Reconnect backoff for a lost bus, ms (default 100 → 5000, jittered). */
  readonly backoff?: { readonly minMs?: number; readonly maxMs?: number };
  /** false forces the pre-0.8 RecordBrowserNew path (tests). */
  readonly useServer2?: boolean;
}

export interface AvahiBackend extends LocalResolver {
  readonly kind: 'avahi';
  /** Live router entries and our unique bus name, for leak checks in tests. */
  debugState(): { readonly subscribed: number; readonly buffered: number; readonly busName: string | undefined };
}

/**
 * The `LocalResolver` over Avahi's D-Bus API (see resolver.ts for the contract). Starts even when
 * Avahi or the bus is absent (`isUp()` false, lookups `unavailable`) and comes up when it appears.
 *
 * Mapping: records → `records`, owner name = the name asked (lowercase, as the cache keys it), class
 * without the cache-flush bit, TTL = `ttl`; AllForNow or the deadline with nothing → `none`; an Avahi
 * failure (e.g. a name Avahi rejects) → `unavailable` (SERVFAIL: we do not know the answer).
 */
export async function createAvahiBackend(opts: AvahiBackendOptions): Promise<AvahiBackend> {
  const conn = new AvahiConnection({
    logger: opts.logger,
    ...(opts.busAddress !== undefined ? { busAddress: opts.busAddress } : {}),
    ...(opts.backoff !== undefined ? { backoff: opts.backoff } : {}),
    ...(opts.useServer2 !== undefined ? { useServer2: opts.useServer2 } : {}),
  });
  await conn.whenSettled(opts.settleMs ?? 1500);
  const count = (outcome: AvahiLookupOutcome): void => {
    try {
      opts.onLookup?.(outcome);
    } catch (err) {
      opts.logger.error({ err }, 'avahi: onLookup hook threw');
    }
  };

  return {
    kind: 'avahi',
    isUp: () => conn.isUp(),
    onStateChange: (listener) => conn.onStateChange(listener),
    close: () => conn.close(),
    debugState: () => ({ ...conn.routerSize, busName: conn.busName }),

    async lookup(query: BackendQuery): Promise<BackendResult> {
      const outcome = await browseRecords(conn.session, {
        name: query.name,
        type: query.type,
        mode: query.mode,
        timeoutMs: query.timeoutMs,
        windowMs: query.windowMs,
        ...(query.signal !== undefined ? { signal: query.signal } : {}),
        ...(query.usable !== undefined ? { settles: query.usable } : {}),
      });
      switch (outcome.kind) {
        case 'records': {
          count('records');
          const records: ResourceRecord[] = outcome.records.map((r) => ({
            name: query.name,
            type: r.type,
            class: r.clazz & 0x7fff,
            ttl: opts.ttl,
            data: r.rdata,
          }));
          return { kind: 'records', records };
        }
        case 'none':
        case 'timeout':
          count(outcome.kind);
          return { kind: 'none' };
        case 'failure':
          count('error');
          opts.logger.debug({ name: query.name, type: query.type, error: outcome.error }, 'avahi: browse failed');
          return { kind: 'unavailable', reason: `avahi: ${outcome.error}` };
        case 'unavailable':
          count('unavailable');
          return { kind: 'unavailable', reason: outcome.reason };
        default: {
          const never: never = outcome;
          return never;
        }
      }
    },
  };
}

/** Is `org.freedesktop.Avahi` owned on the bus right now? (`mdns.backend: auto`.) Never throws. */
export function isAvahiPresent(busAddress?: string): Promise<boolean> {
  return probeAvahi(busAddress);
}
