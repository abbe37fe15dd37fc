import type { MonitorHandle, MonitorOptions, NftEvent } from '../monitor.js';
import type { RawNftEvent } from './nft-events.js';
import { NOTIFY_BYTES_PER_ELEMENT, RCVBUF, subscribeNft, type Subscription } from './nft-subscription.js';

/**
 * The netlink backend's monitor(): each call is a listener on the namespace's shared subscription
 * (nft-subscription.ts), and each event gets its `origin` — `own` exactly when nlmsg_pid is the
 * portid of this backend's request socket in that namespace (nft-events.ts explains why that is
 * exact). A socket abandoned after a deadline is no longer ours: if its stuck transaction commits
 * later, its events are foreign and trigger the repair they should.
 *
 * Tables and sets are created in the same batch as the elements (set-create.ts), so their
 * NEWTABLE/NEWSET carry our portid too: there is no exception to the rule.
 */
export interface MonitorFanout {
  monitor(o: MonitorOptions): MonitorHandle;
  /**
   * Runs one of our own transactions of about `elements` element changes: room for its
   * notifications is reserved first when it is bigger than the buffer holds, and they are read
   * right after it, so they never share the buffer with the next one.
   */
  own<T>(netns: string | undefined, elements: number, send: () => Promise<T>): Promise<T>;
}

export function createMonitorFanout(ownPortid: (netns: string | undefined) => number | undefined): MonitorFanout {
  const subs = new Map<string, Set<Subscription>>();

  const originOf = (netns: string | undefined, e: RawNftEvent): 'own' | 'foreign' => (e.portid === ownPortid(netns) ? 'own' : 'foreign');

  const pollAll = (netns: string | undefined): void => {
    for (const s of subs.get(netns ?? '') ?? []) s.pollNow();
  };

  return {
    monitor(o) {
      const key = o.netns ?? '';
      let stopped = false;
      const sub = subscribeNft(o.netns, {
        onEvents: (events) => {
          for (const e of events) {
            if (stopped) return;
            if (e.kind === 'gen') continue;
            const { portid: _portid, ...event } = e;
            o.onEvent({ ...event, origin: originOf(o.netns, e) } as NftEvent);
          }
        },
        onState: (state, detail) => {
          if (!stopped) o.onState?.(state, detail);
        },
      });
      let mine = subs.get(key);
      if (!mine) subs.set(key, (mine = new Set()));
      mine.add(sub);
      return {
        async stop() {
          stopped = true;
          mine.delete(sub);
          sub.stop();
        },
      };
    },

    async own(netns, elements, send) {
      const mine = [...(subs.get(netns ?? '') ?? [])];
      const bytes = elements * NOTIFY_BYTES_PER_ELEMENT + RCVBUF / 2;
      const releases = bytes > RCVBUF ? mine.map((s) => s.reserve(bytes)) : [];
      try {
        return await send();
      } finally {
        if (releases.length > 0)
          for (const r of releases) r(); // reads the queue, keeps the room until it is empty
        else pollAll(netns);
      }
    },
  };
}
