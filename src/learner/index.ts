import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ListModel } from '../blocklist/index.js';
import type { IpFamily } from '../lib/ip-prefix/index.js';
import { errorMessage, SidecarError } from '../errors.js';
import { SerialQueue } from '../lib/concurrency/index.js';
import { startDnstapServer, type DnstapServer } from '../lib/dnstap/index.js';
import type { LearnedSets } from '../set-sync/index.js';
import { startAdminApi, type AdminApi, type AdminEvent } from './admin-api.js';
import type { LearnerConfig } from './config.js';
import { createLearnAnswer, type LearnAnswer } from './answer-learning.js';
import { createDnstapIngest, createLearn } from './dnstap-ingest.js';
import { LEARNED_FILE, LearnedStore, loadAdditions } from './learned-store.js';
import { ListMatchers } from './list-matchers.js';
import { lookup, type LookupResult } from './lookup.js';
import { createLearnerMetrics } from './metrics.js';
import { createResolverQueue, type ResolverQueue } from './resolver-queue.js';
import { StateWrites, type StateHealth } from './state-health.js';

export { adminConfigSchema, dnstapConfigSchema, learnConfigSchema, resolveConfigSchema, type LearnerConfig, type LearnerListConfig } from './config.js';
export type { AdminEvent } from './admin-api.js';
export type { LookupResult as LearnerLookupResult } from './lookup.js';
export type { StateHealth as LearnerStateHealth } from './state-health.js';
export type { LearnAnswer, LearnReport } from './answer-learning.js';

/**
 * learner: registry domains → live addresses in learned nft sets. dnstap answers and
 * proactive resolution both end in `learn` → set-sync's learned sets (the only nftables writer);
 * the store remembers what was learned (restart, `lookup`); the admin API edits runtime additions.
 */
export interface LearnedCount {
  readonly list: string;
  readonly family: IpFamily;
  readonly count: number;
}

export interface LearnerStatus {
  dnstap: { listening: boolean; connections: number; frames: number; errors: number } | undefined;
  /** Learned addresses not yet expired, per list and family. */
  learned: readonly LearnedCount[];
  resolve: { names: number; due: number; inFlight: number } | undefined;
  /** Whether the learned store and the runtime additions could be written in stateDir. */
  state: StateHealth;
}

export interface Learner {
  start(): Promise<void>;
  /** From blocklist.onModel: the list's domains and static ranges. */
  setListModel(model: ListModel): void;
  stop(): Promise<void>;
  status(): LearnerStatus;
  /** status().state without counting the store: cheap enough for every /readyz. */
  state(): StateHealth;
  /** Which list matches a name or holds an address, and why (the CLI's and the status page's question). */
  lookup(query: string): LookupResult;
  /**
   * One DNS response (wire format) → its listed addresses into the learned sets: undefined when
   * nothing in it is listed (decided synchronously), else resolves once they are in the kernel.
   * The DNS front awaits it before relaying the answer; the dnstap ingest uses the same function.
   */
  learnAnswer: LearnAnswer;
}

const HOUSEKEEPING_MS = 30_000;

export function createLearner(opts: { config: LearnerConfig; stateDir: string; logger: Logger; registry: Registry; learnedSets: LearnedSets; onAdmin?: (e: AdminEvent) => void }): Learner {
  const { config, learnedSets } = opts;
  const logger = opts.logger.child({ capability: 'learner' });
  const metrics = createLearnerMetrics(opts.registry);
  const matchers = new ListMatchers(config.lists, config.resolve);
  // The store keeps what was learned and why; until when is set-sync's (one clock per element).
  const store = new LearnedStore(opts.stateDir, (list, family) => {
    const target = matchers.get(list)?.target;
    return target === undefined ? undefined : learnedSets.expiryReader(target, family);
  });
  const stateWrites = new StateWrites(opts.stateDir);
  const learn = createLearn({ learnedSets, store, metrics, logger });
  const unavailable = (list: { target: Parameters<LearnedSets['unavailable']>[0] | undefined }, family: 'ipv4' | 'ipv6') =>
    list.target === undefined ? undefined : learnedSets.unavailable(list.target, family);
  const learnAnswer = createLearnAnswer({ matchers, learn, unavailable });
  const additions = new Map<string, Set<string>>(config.lists.map((l) => [l.name, new Set<string>()]));
  let resolver: ResolverQueue | undefined;
  let dnstap: DnstapServer | undefined;
  let admin: AdminApi | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Until the store is loaded, a save would replace learned.json with an empty one. */
  let loaded = false;

  const domainsOf = (list: string): readonly string[] => {
    const s = matchers.get(list);
    const extra = [...(additions.get(list) ?? [])];
    return extra.length === 0 ? (s?.domains ?? []) : [...(s?.domains ?? []), ...extra];
  };

  /**
   * Addresses learned through a name no entry of `list` covers any more (removed at runtime, or
   * dropped by the registry) leave the set and the store now instead of at their timeout. Entries
   * stored before `matched` was kept are left to expire. Yields every 5000 entries: the store can
   * hold a million.
   */
  const pruning = new SerialQueue();
  function prune(list: string): Promise<void> {
    return pruning
      .run(async () => {
        const s = matchers.get(list);
        if (s?.target === undefined) return;
        const gone: { family: 'ipv4' | 'ipv6'; address: string; matched: string }[] = [];
        let seen = 0;
        for (const e of [...store.all()]) {
          if (++seen % 5000 === 0) await new Promise((r) => setImmediate(r));
          if (e.list !== list || e.matched === undefined || matchers.matchIn(s, e.matched) !== undefined) continue;
          gone.push({ family: e.family, address: e.address, matched: e.matched });
        }
        if (gone.length === 0) return;
        const target = s.target;
        await Promise.all(
          gone.map(async (g) => {
            const r = await learnedSets.remove(target, g.family, g.address);
            if (r.kind === 'applied' || r.kind === 'no-set') store.delete(list, g.address);
          }),
        );
        metrics.pruned.inc({ list }, gone.length);
        logger.info({ list, addresses: gone.length, names: [...new Set(gone.map((g) => g.matched))].slice(0, 10) }, 'learner: addresses learned for names no longer listed were removed from the set');
      })
      .catch((err: unknown) => logger.warn({ err: errorMessage(err), list }, 'learner: pruning unlisted addresses failed'));
  }

  function housekeeping(save = true): void {
    const n = store.expire();
    if (n > 0) metrics.expirations.inc(n);
    if (resolver) metrics.queueDepth.set(resolver.status().due);
    metrics.learnedElements.reset();
    for (const { list, family, count } of store.counts()) metrics.learnedElements.set({ list, family }, count);
    if (save) void saveStore(false);
  }

  /** Never rejects: a failed write is logged and shown in status().state until one succeeds. */
  function saveStore(force: boolean): Promise<void> {
    return store.save(force).then(
      () => stateWrites.ok(LEARNED_FILE),
      (err: unknown) => logger.warn({ err: errorMessage(err) }, `learner: saving learned addresses failed: ${stateWrites.failure(LEARNED_FILE, err)}`),
    );
  }

  return {
    async start() {
      for (const [list, names] of await loadAdditions(opts.stateDir)) {
        if (!additions.has(list)) continue;
        additions.set(list, new Set(names));
        matchers.setAdditions(list, names);
      }
      // Restore: re-submit with the remaining timeout (the kernel set may have been emptied by a reboot).
      const now = Date.now();
      const restored: Restoring[] = [];
      const { loaded: restoredRows, dropped } = await store.load((e, expires) => {
        const target = matchers.get(e.list)?.target;
        if (target) restored.push(restoring(learnedSets.submit(target, e.family, e.address, Math.ceil((expires - now) / 1000)), () => learnedSets.unavailable(target, e.family) !== undefined));
      }, now);
      loaded = true;
      const held = await restoredOrHeld(restored);
      if (restoredRows + dropped > 0) logger.info({ loaded: restoredRows, dropped, held }, 'learner: learned addresses restored');
      if (held > 0) logger.warn({ held }, 'learner: some restored addresses wait for their learned set, which is missing; they are written when it appears (set-sync retries)');

      if (config.dnstap) {
        const ingest = createDnstapIngest({
          learnAnswer: createLearnAnswer({ matchers, learn, unavailable, malformed: (reason) => metrics.dnstapErrors.inc({ reason: `dns-${reason}` }) }),
        });
        dnstap = await startDnstapServer({
          socketPath: config.dnstap.socket,
          ...(config.dnstap.mode !== undefined ? { mode: config.dnstap.mode } : {}),
          ...(config.dnstap.group !== undefined ? { gid: await groupId(config.dnstap.group) } : {}),
          onMessage: (msg) => ingest(msg),
          hooks: {
            connectionOpened: () => metrics.dnstapConnections.inc(),
            connectionClosed: () => metrics.dnstapConnections.dec(),
            frame: (bytes) => {
              metrics.dnstapFrames.inc();
              metrics.dnstapBytes.inc(bytes);
            },
            error: (reason) => metrics.dnstapErrors.inc({ reason }),
          },
        });
        logger.info({ socket: config.dnstap.socket }, 'learner: dnstap listening');
      }
      if (config.resolve.enabled && matchers.lists.some((l) => l.target && l.resolve)) {
        resolver = createResolverQueue({ config: config.resolve, matchers, learn, metrics, logger });
        for (const l of matchers.lists) if (l.target && l.resolve) resolver.setNames(l.name, domainsOf(l.name));
        resolver.start();
      }
      admin = await startAdminApi({
        socketPath: config.admin.socket,
        matchers,
        store,
        stateDir: opts.stateDir,
        additions,
        stateWrites,
        logger,
        onChange: (list, added) => {
          resolver?.setNames(list, domainsOf(list));
          for (const name of added) resolver?.resolveNow(list, name);
          if (added.length === 0) void prune(list); // a removal
        },
        ...(opts.onAdmin ? { onEvent: opts.onAdmin } : {}),
      });
      timer = setInterval(() => housekeeping(), HOUSEKEEPING_MS);
      timer.unref();
    },
    setListModel(model) {
      const before = matchers.get(model.list)?.domains;
      matchers.setModel(model.list, model);
      const s = matchers.get(model.list);
      if (resolver && s?.target && s.resolve) resolver.setNames(model.list, domainsOf(model.list));
      // The registry changed its domains (not the first model, which only adds): drop what it delisted.
      if (before !== undefined && before.length > 0 && s?.domains !== before) void prune(model.list);
    },
    /**
     * Stops the inputs first (admin edits finish their write; no new names, answers or prunes),
     * writes what is pending to the sets, then saves the store once more and waits for it: the
     * daemon exits only after learned.json holds everything learned.
     */
    async stop() {
      if (timer) clearInterval(timer);
      await admin?.close();
      await dnstap?.close();
      await resolver?.stop();
      await pruning.idle();
      await learnedSets.flush();
      if (!loaded) return; // start failed before the store was read: keep the file as it is
      housekeeping(false);
      await saveStore(true);
      await store.idle();
    },
    status() {
      const c = dnstap?.counters();
      return {
        dnstap: c ? { listening: true, connections: c.connectionsOpen, frames: c.frames, errors: Object.values(c.errors).reduce((a, b) => a + (b ?? 0), 0) } : undefined,
        learned: store.counts(),
        resolve: resolver?.status(),
        state: stateWrites.status(),
      };
    },
    state: () => stateWrites.status(),
    lookup: (query) => lookup(query, { matchers, store }),
    learnAnswer,
  };
}

/** A group name (or numeric gid) → gid, from /etc/group. */
async function groupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new SidecarError('CONFIG_INVALID', 'learner', `dnstap.group: no group named "${group}" in /etc/group`);
}

/** One restored address on its way to the kernel: written (settled), or held while its set is missing. */
interface Restoring {
  settled: boolean;
  readonly held: () => boolean;
  readonly write: Promise<unknown>;
}

function restoring(write: Promise<unknown>, held: () => boolean): Restoring {
  const r: Restoring = { settled: false, held, write };
  void write.then(() => (r.settled = true));
  return r;
}

/**
 * Resolves once every restored address is written, or what is left waits on a set that is
 * missing (set-sync holds those elements and writes them when the set appears): the start must not
 * hang on a set someone has yet to create. Returns how many are held.
 */
async function restoredOrHeld(rs: readonly Restoring[]): Promise<number> {
  if (rs.length === 0) return 0;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearInterval(poll);
      resolve();
    };
    const poll = setInterval(() => {
      if (rs.every((r) => r.settled || r.held())) done();
    }, 50);
    void Promise.all(rs.map((r) => r.write)).then(done);
  });
  return rs.filter((r) => !r.settled).length;
}
