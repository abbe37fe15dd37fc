import type { Logger } from 'pino';
import { existenceTypes } from './lookup-shape.js';
import type { BackendQuery, BackendResult, LocalResolver } from './resolver.js';

/**
 * A lookup that lost its backend near its deadline still gets this long on the other one: the
 * question was never answered, and native answers in ~1 ms (address) to ~250 ms (collect). The
 * overrun is bounded by this; without it a query caught by avahi-daemon's exit ~1 s into its
 * browse window came back SERVFAIL (seen in the auto-switch test).
 */
const MIN_RETRY_BUDGET_MS = 300;

/**
 * Avahi that appears while we run takes over only after this long up. A freshly started
 * avahi-daemon reports RUNNING once its host name is established, but its lookups come back empty
 * for about a second more: its interfaces only take part in queries once their own address records
 * are probed and announced (RFC 6762 §8; avahi-core `avahi_interface_is_relevant`), and a record
 * browser's first query is retried only after a second. Seen in the auto-switch test: every lookup
 * sent to Avahi in the first ~1 s after its RUNNING came back NXDOMAIN (printer.local A, four of
 * four). Native answers meanwhile. Avahi already up when we start is used at once.
 */
export const AVAHI_SETTLE_MS = 3000;

export interface BackendSelector extends LocalResolver {
  /** The backend new lookups go to now. */
  active(): LocalResolver;
  /** Called with the newly active backend on every switch. Returns an unsubscribe function. */
  onSwitch(listener: (to: LocalResolver, from: LocalResolver) => void): () => void;
}

/**
 * `mdns.backend: auto`: `preferred` (Avahi) while it is up, `fallback` (native) otherwise, decided
 * per lookup, so a switch takes effect for the next question with nothing torn down. Avahi that
 * appears while native is working takes over once it has settled (AVAHI_SETTLE_MS); Avahi that
 * leaves hands over at once.
 *
 * Lookups in flight when the backends switch are not dropped: one already running on the fallback
 * simply finishes there (it is still a working source); one on Avahi when Avahi leaves comes back
 * `unavailable` at once (the connection aborts its browsers on NameOwnerChanged), and is then asked
 * again on the now active backend with whatever remains of its time limit, instead of SERVFAIL.
 */
export function createBackendSelector(opts: { preferred: LocalResolver; fallback: LocalResolver; logger: Logger; settleMs?: number }): BackendSelector {
  const { preferred, fallback } = opts;
  const settleMs = opts.settleMs ?? AVAHI_SETTLE_MS;
  /** Set while Avahi, just arrived, settles (AVAHI_SETTLE_MS); its end re-evaluates. */
  let settling: NodeJS.Timeout | undefined;
  let preferredUp = preferred.isUp();
  const choose = (): LocalResolver => {
    if (!preferred.isUp()) return fallback;
    return settling !== undefined && fallback.isUp() ? fallback : preferred;
  };
  let current = choose();
  let up = current.isUp();
  const switchListeners = new Set<(to: LocalResolver, from: LocalResolver) => void>();
  const stateListeners = new Set<(up: boolean) => void>();

  const reevaluate = (): void => {
    const nowPreferredUp = preferred.isUp();
    if (nowPreferredUp !== preferredUp) {
      preferredUp = nowPreferredUp;
      clearTimeout(settling);
      settling = undefined;
      if (nowPreferredUp && settleMs > 0 && current === fallback && fallback.isUp()) {
        settling = setTimeout(() => {
          settling = undefined;
          reevaluate();
        }, settleMs);
        settling.unref();
      }
    }
    const next = choose();
    if (next === preferred && settling !== undefined) {
      clearTimeout(settling); // native went away meanwhile: Avahi is all there is
      settling = undefined;
    }
    if (next !== current) {
      const from = current;
      current = next;
      for (const l of switchListeners) {
        try {
          l(next, from);
        } catch (err) {
          opts.logger.error({ err }, 'local-names: switch listener threw');
        }
      }
    }
    const nowUp = current.isUp();
    if (nowUp !== up) {
      up = nowUp;
      for (const l of stateListeners) {
        try {
          l(nowUp);
        } catch (err) {
          opts.logger.error({ err }, 'local-names: state listener threw');
        }
      }
    }
  };
  const unsubscribers = [preferred.onStateChange(reevaluate), fallback.onStateChange(reevaluate)];

  return {
    get kind() {
      return current.kind;
    },
    active: () => current,
    existenceTypes: (name) => (current.existenceTypes ?? existenceTypes)(name),
    isUp: () => current.isUp(),
    onStateChange(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onSwitch(listener) {
      switchListeners.add(listener);
      return () => switchListeners.delete(listener);
    },
    async lookup(query: BackendQuery): Promise<BackendResult> {
      const started = performance.now();
      const first = current;
      const result = await first.lookup(query);
      if (result.kind !== 'unavailable' || query.signal?.aborted) return result;
      // The state listener may not have run yet if the signal raced the result: look again.
      reevaluate();
      const next = current;
      const left = Math.floor(query.timeoutMs - (performance.now() - started));
      if (next === first || !next.isUp()) return result;
      const budget = Math.max(left, MIN_RETRY_BUDGET_MS);
      opts.logger.debug({ name: query.name, type: query.type, from: first.kind, to: next.kind, leftMs: left, budgetMs: budget }, 'local-names: lookup retried on the backend switched to');
      return next.lookup({ ...query, timeoutMs: budget, windowMs: Math.min(query.windowMs, budget) });
    },
    async close() {
      clearTimeout(settling);
      settling = undefined;
      for (const u of unsubscribers) u();
      switchListeners.clear();
      stateListeners.clear();
      await Promise.allSettled([preferred.close(), fallback.close()]);
    },
  };
}
