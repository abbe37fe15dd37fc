import type { ListRefreshStatus } from '../blocklist/index.js';
import type { Config } from '../config/schema.js';
import type { DnsFrontStatus } from '../dns-front/index.js';
import { buildStatusSnapshot, type ListStatusInput, type RecentError, type StatusSnapshot } from '../http/index.js';
import type { LearnerStatus } from '../learner/index.js';
import type { LocalNamesStatus } from '../local-names/index.js';
import type { SetSyncStatus } from '../set-sync/index.js';
import type { ListPipeline } from './list-pipeline.js';

/** The list pipeline's status(): each list's last refresh and each of its sets, as their owners report them. */
export interface ListsStatus {
  readonly refresh: readonly ListRefreshStatus[];
  readonly sets: readonly SetSyncStatus[];
}

export function listsStatus(lists: Pick<ListPipeline, 'blocklist' | 'setSync'>): ListsStatus {
  return { refresh: lists.blocklist.status(), sets: lists.setSync.status() };
}

/**
 * The component statuses the snapshot is made of, under the daemon's component names (the
 * daemon's `Statuses<typeof components>` is checked against it); `undefined`: not configured.
 */
export interface SnapshotStatuses {
  readonly 'local-names': LocalNamesStatus;
  readonly lists: ListsStatus | undefined;
  readonly learner: LearnerStatus | undefined;
  readonly 'dns-front': DnsFrontStatus | undefined;
}

type ListDeclaration = Pick<Config['lists'][number], 'name' | 'refresh' | 'learn'>;

export interface SnapshotContext {
  readonly version: string;
  readonly startedAt: number;
  /** The configured lists, in config order: the page shows each, also before its first refresh. */
  readonly lists: readonly ListDeclaration[];
  readonly errors: readonly RecentError[];
  readonly lookup: boolean;
  readonly now?: number;
}

/** /api/status from the components' statuses: joins what no single component knows (a list's sets and learned count). */
export function statusSnapshot(s: SnapshotStatuses, ctx: SnapshotContext): StatusSnapshot {
  const dnstap = s.learner?.dnstap;
  return buildStatusSnapshot({
    version: ctx.version,
    startedAt: ctx.startedAt,
    mdns: s['local-names'],
    ...(dnstap ? { dnstap: { connected: dnstap.connections > 0, connections: dnstap.connections, frames: dnstap.frames } } : {}),
    ...(s.learner ? { state: s.learner.state } : {}),
    ...(s['dns-front'] ? { front: s['dns-front'] } : {}),
    lists: s.lists ? listInputs(ctx.lists, s.lists, s.learner) : [],
    lookup: ctx.lookup,
    errors: ctx.errors,
    ...(ctx.now !== undefined ? { now: ctx.now } : {}),
  });
}

function listInputs(declared: readonly ListDeclaration[], lists: ListsStatus, learner: LearnerStatus | undefined): ListStatusInput[] {
  const refresh = new Map(lists.refresh.map((r) => [r.list, r]));
  // The learner counts per list and family; the page shows one number per list.
  const learned = new Map<string, number>();
  for (const { list, count } of learner?.learned ?? []) learned.set(list, (learned.get(list) ?? 0) + count);
  return declared.map((l) => {
    const r = refresh.get(l.name);
    return {
      name: l.name,
      refreshMs: l.refresh,
      ...(r?.lastSyncAt !== undefined ? { lastSyncAt: r.lastSyncAt } : {}),
      ...(r?.outcome !== undefined ? { outcome: r.outcome } : {}),
      ...(r?.lastSuccessAt !== undefined ? { lastSuccessAt: r.lastSuccessAt } : {}),
      ...(r?.lastError !== undefined ? { lastError: r.lastError } : {}),
      sets: lists.sets.filter((x) => x.list === l.name).map(({ list: _list, ...x }) => x),
      ...(l.learn ? { learned: learned.get(l.name) ?? 0 } : {}),
    };
  });
}
