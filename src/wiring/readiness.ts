import type { ReadinessCheck } from '../lib/component/index.js';
import type { Learner } from '../learner/index.js';
import type { LocalNamesService } from '../local-names/index.js';
import type { ListPipeline } from './list-pipeline.js';

/**
 * The /readyz checks the daemon's components carry (`Component.readiness`). The names and texts
 * are what operators and the lab read (`ok dns: listening on …`, `FAIL mdns: avahi down …`).
 */

/**
 * A listener is ready once the whole start order is done (`started()`), not at its own start: the
 * daemon is not ready while later components (the list sets, the learner) are still coming up,
 * and systemd's READY=1 is sent at that same moment (src/cli/run.ts).
 */
export function listenerReadiness(name: string, listen: readonly string[], started: () => boolean): ReadinessCheck {
  return {
    name,
    check: () => (started() ? { kind: 'ready', detail: `listening on ${listen.join(', ')}` } : { kind: 'not-ready', detail: 'not listening yet' }),
  };
}

/**
 * The front: like any listener, and not ready while a listen address is still missing from every
 * interface (it is retried; the clients of that address get no answers until it binds).
 */
export function frontReadiness(front: { status(): { readonly notBound: readonly string[] } }, listen: readonly string[], started: () => boolean): ReadinessCheck {
  const listener = listenerReadiness('front', listen, started);
  return {
    name: 'front',
    check: () => {
      const missing = front.status().notBound;
      if (missing.length === 0 || !started()) return listener.check();
      const bound = listen.filter((l) => !missing.includes(l));
      return { kind: 'not-ready', detail: `not listening on ${missing.join(', ')} yet (no interface has the address; retrying)${bound.length > 0 ? `; listening on ${bound.join(', ')}` : ''}` };
    },
  };
}

export function mdnsReadiness(localNames: Pick<LocalNamesService, 'status'>): ReadinessCheck {
  return {
    name: 'mdns',
    check: () => {
      const s = localNames.status();
      return s.up ? { kind: 'ready', detail: `${s.backend} up` } : { kind: 'not-ready', detail: `${s.backend} down (answers are SERVFAIL until it returns)` };
    },
  };
}

/**
 * A read-only or full stateDir keeps DNS and the sets working but loses what is learned or added
 * at the next restart: not ready until a write there succeeds again.
 */
export function stateReadiness(learner: Pick<Learner, 'state'>): ReadinessCheck {
  return {
    name: 'state',
    check: () => {
      const s = learner.state(); // not status(): that counts the store, this runs on every /readyz
      if (s.writable) return { kind: 'ready', detail: `${s.dir} writable` };
      return { kind: 'not-ready', detail: `${s.failures.map((f) => `${f.file}: ${f.error}`).join('; ')} (learned addresses and runtime additions are not saved)` };
    },
  };
}

/**
 * Ready once the snapshots are restored and while every set that has a model is applied: a missing
 * table or set, or a failed last apply, means traffic is not routed as listed (set-sync keeps
 * retrying and refills the set the moment it appears, which makes this ready again).
 */
export function listsReadiness(lists: Pick<ListPipeline, 'started' | 'setSync'>, count: number): ReadinessCheck {
  return {
    name: 'lists',
    check: () => {
      if (!lists.started()) return { kind: 'not-ready', detail: 'restoring snapshots into the sets' };
      const failing = lists.setSync.status().filter((s) => s.lastError !== undefined);
      if (failing.length > 0) return { kind: 'not-ready', detail: failing.map((s) => `set ${s.set} not applied: ${s.lastError}`).join('; ') };
      return { kind: 'ready', detail: `${count} list(s) restored and syncing` };
    },
  };
}
