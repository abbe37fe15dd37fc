import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createBlocklist, type Blocklist, type ListModel, type ListSyncReport } from '../blocklist/index.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { SetSync, SetTarget } from '../set-sync/index.js';

/**
 * Where the registry pipeline meets the kernel: every model the blocklist publishes (a snapshot at
 * start, a changed download later) is handed to set-sync. Applies are serialised per list and
 * coalesced — while one runs, only the newest model waits. A failed apply is not retried here:
 * set-sync keeps the model and retries with backoff itself (a missing set is filled when it appears).
 */
export interface ListPipeline {
  /** Restore snapshots into the sets; resolves when each list's first apply has finished (or failed). */
  start(): Promise<void>;
  /** Download now (SIGHUP, `sync`); resolves with the reports once the changes are applied. */
  refresh(list?: string): Promise<ListSyncReport[]>;
  /** True once start() has applied (or tried to apply) every snapshot. */
  started(): boolean;
  readonly blocklist: Blocklist;
  readonly setSync: SetSync;
  stop(): Promise<void>;
}

type ListConfig = Config['lists'][number];

export function targetOf(list: ListConfig): SetTarget {
  return {
    list: list.name,
    family: list.nft.family,
    table: list.nft.table,
    createSets: list.nft.createSets,
    ...(list.nft.set4 !== undefined ? { set4: list.nft.set4 } : {}),
    ...(list.nft.set6 !== undefined ? { set6: list.nft.set6 } : {}),
    ...(list.nft.netns !== undefined ? { netns: list.nft.netns } : {}),
  };
}

/** `setSync`: the list half of set-sync's owner (createSetOwner), which the learned sets share a backend with. */
export function createListPipeline(opts: { config: Config; logger: Logger; registry: Registry; setSync: SetSync; onModel?: (m: ListModel) => void }): ListPipeline {
  const { config, logger } = opts;
  const targets = new Map(config.lists.map((l) => [l.name, targetOf(l)]));
  const blocklist = createBlocklist({ lists: config.lists, stateDir: config.stateDir, logger: logger.child({ capability: 'blocklist' }), registry: opts.registry });
  const setSync = opts.setSync;

  interface Lane {
    running: Promise<void> | undefined;
    next: ListModel | undefined;
  }
  const lanes = new Map<string, Lane>();
  let isStarted = false;
  let stopped = false;

  function lane(list: string): Lane {
    let l = lanes.get(list);
    if (!l) {
      l = { running: undefined, next: undefined };
      lanes.set(list, l);
    }
    return l;
  }

  /** Queue `model` for its list; the returned promise settles when the lane is idle again. */
  function submit(model: ListModel): Promise<void> {
    const l = lane(model.list);
    l.next = model;
    l.running ??= drain(model.list, l).finally(() => (l.running = undefined));
    return l.running;
  }

  async function drain(list: string, l: Lane): Promise<void> {
    while (l.next && !stopped) {
      const model = l.next;
      l.next = undefined;
      const target = targets.get(list);
      if (!target) return;
      try {
        const reports = await setSync.apply(target, model);
        logger.info({ list, reports }, 'lists: sets in sync');
      } catch (err) {
        logger.error({ list, err: errorMessage(err) }, `lists: applying "${list}" failed; set-sync retries with backoff`);
      }
    }
  }

  blocklist.onModel((m) => {
    opts.onModel?.(m);
    void submit(m);
  });

  return {
    blocklist,
    setSync,
    started: () => isStarted,
    async start() {
      await setSync.start();
      await blocklist.loadSnapshots(); // publishes each restored model through onModel
      await Promise.all([...lanes.values()].map((l) => l.running));
      isStarted = true;
      blocklist.start();
    },
    async refresh(list) {
      const reports = await blocklist.refresh(list);
      await Promise.all([...lanes.values()].map((l) => l.running));
      return reports;
    },
    async stop() {
      stopped = true;
      await blocklist.stop();
      await Promise.all([...lanes.values()].map((l) => l.running));
      await setSync.stop();
    },
  };
}
