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
 * One exception, also exact in what it can hide: `add table`/`add set` (createSets) still run
 * through the nft binary, whose NEWTABLE/NEWSET carry nft's portid. While such a create runs, the
 * subscription is read before and after it and a NEWTABLE/NEWSET of exactly the names created is
 * taken as ours. A foreign create of the same name in that window would make the same empty
 * table/set that ours does, and our elements follow it in the same apply; any foreign *delete*
 * (which is what a reload or flush starts with) stays foreign.
 */
export interface MonitorFanout {
  monitor(o: MonitorOptions): MonitorHandle;
  /**
   * Runs one of our own transactions of about `elements` element changes: room for its
   * notifications is reserved first when it is bigger than the buffer holds, and they are read
   * right after it, so they never share the buffer with the next one.
   */
  own<T>(netns: string | undefined, elements: number, send: () => Promise<T>): Promise<T>;
  /** Runs `create` (nft CLI `add table`/`add set` commands) with its own creations attributed to us. */
  creating<T>(netns: string | undefined, commands: readonly string[], create: () => Promise<T>): Promise<T>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `table|inet|t` / `set|inet|t|s` of each `{"add":{"table"|"set":…}}` command. */
function createdNames(commands: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const c of commands) {
    let doc: unknown;
    try {
      doc = JSON.parse(c);
    } catch {
      continue;
    }
    const add = isRecord(doc) ? doc.add : undefined;
    if (!isRecord(add)) continue;
    const { table, set } = add;
    if (isRecord(table) && typeof table.family === 'string' && typeof table.name === 'string') out.add(`table|${table.family}|${table.name}`);
    if (isRecord(set) && typeof set.family === 'string' && typeof set.table === 'string' && typeof set.name === 'string') out.add(`set|${set.family}|${set.table}|${set.name}`);
  }
  return out;
}

export function createMonitorFanout(ownPortid: (netns: string | undefined) => number | undefined): MonitorFanout {
  /** Per namespace: the names being created by nft right now. */
  const windows = new Map<string, Set<string>[]>();
  const subs = new Map<string, Set<Subscription>>();

  function originOf(netns: string | undefined, e: RawNftEvent): 'own' | 'foreign' {
    if (e.portid === ownPortid(netns)) return 'own';
    if (e.kind === 'table' || e.kind === 'set') {
      const name = e.kind === 'table' ? `table|${e.family}|${e.table}` : `set|${e.family}|${e.table}|${e.set}`;
      if (e.op === 'add' && (windows.get(netns ?? '') ?? []).some((w) => w.has(name))) return 'own';
    }
    return 'foreign';
  }

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
        if (releases.length > 0) for (const r of releases) r(); // reads the queue, keeps the room until it is empty
        else pollAll(netns);
      }
    },

    async creating(netns, commands, create) {
      const key = netns ?? '';
      pollAll(netns); // what came before is judged without the window
      const w = createdNames(commands);
      let list = windows.get(key);
      if (!list) windows.set(key, (list = []));
      list.push(w);
      try {
        return await create();
      } finally {
        pollAll(netns); // nft has exited: its notifications are queued on our socket now
        list.splice(list.indexOf(w), 1);
      }
    },
  };
}
