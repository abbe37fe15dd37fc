import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createBlocklist, type Blocklist, type ListModel, type ListSyncReport } from '../blocklist/index.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { SetSync, SetTarget } from '../set-sync/index.js';

/**
 * Where the registry pipeline meets the kernel: every model the blocklist publishes (a snapshot at
 * start, a changed download later) is handed to set-sync, which serialises and coalesces them per
 * list (while one apply runs, only the newest model waits). A failed apply is not retried here:
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

  /**
   * Per list, its newest apply: set-sync settles a list's applies in order (newest-wins, a replaced
   * model's caller gets the newer write's reports), so waiting for these waits for every model handed over.
   */
  const applying = new Map<string, Promise<void>>();
  /** Outcomes already logged: the callers of a coalesced write share its reports (or error) object. */
  const logged = new WeakSet<object>();
  const once = (outcome: object): boolean => !logged.has(outcome) && Boolean(logged.add(outcome));
  let isStarted = false;
  let stopped = false;

  /** Hands `model` to set-sync, which serialises and coalesces it with the list's other models. */
  function submit(model: ListModel): void {
    const list = model.list;
    const target = targets.get(list);
    if (!target || stopped) return;
    applying.set(
      list,
      setSync.apply(target, model).then(
        (reports) => {
          // A model replaced while it waited settles with the newer write's reports (the same array): logged once.
          if (once(reports)) logger.info({ list, reports }, 'lists: sets in sync');
        },
        (err: unknown) => {
          if (typeof err !== 'object' || err === null || once(err)) logger.error({ list, err: errorMessage(err) }, `lists: applying "${list}" failed; set-sync retries with backoff`);
        },
      ),
    );
  }

  const applied = async (): Promise<void> => {
    await Promise.all(applying.values());
  };

  blocklist.onModel((m) => {
    opts.onModel?.(m);
    submit(m);
  });

  return {
    blocklist,
    setSync,
    started: () => isStarted,
    async start() {
      await setSync.start();
      await blocklist.loadSnapshots(); // publishes each restored model through onModel
      await applied();
      isStarted = true;
      blocklist.start();
    },
    async refresh(list) {
      const reports = await blocklist.refresh(list);
      await applied();
      return reports;
    },
    async stop() {
      stopped = true;
      await blocklist.stop();
      await applied();
      await setSync.stop();
    },
  };
}
