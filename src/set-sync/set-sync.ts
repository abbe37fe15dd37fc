import type { Logger } from 'pino';
import { errorMessage, isSidecarError, SidecarError } from '../errors.js';
import { emptyRangeSet, type RangeSet } from '../lib/ip-prefix/index.js';
import { NftSetError, type NftBackend, type QuietWindow } from '../lib/nft/nft-backend.js';
import { addSetCommand, addTableCommand, elementCommand, flushSetCommand, setRefText, type NftCommand, type NftFamily, type SetRef } from '../lib/nft/nft-json.js';
import { EchoFilter } from './echo-filter.js';
import type { SetSyncMetrics } from './metrics.js';
import { exactFromElements, exactIfDisjoint } from './readback.js';
import type { RecordKeeper, WriteTally } from './record-keeper.js';
import { chunkDiff, elementsJson, planSync, type CostModel, type DiffChunk, type SyncPlan } from './set-plan.js';

/**
 * `transactions`: how many nft transactions the write took (each within the bound). `basis`: what
 * the kernel was taken to hold — this process's last write, the record of an earlier run's
 * (applied-records.ts: nothing committed in the namespace since), or a readback.
 */
export interface ApplyReport {
  set: string;
  mode: 'full' | 'diff' | 'noop';
  added: number;
  removed: number;
  unchanged: number;
  transactions: number;
  durationMs: number;
  basis?: KnownBasis;
}

export type KnownBasis = 'memory' | 'record' | 'readback';

/** One nft set and what we know about it. */
export class SetState {
  readonly ref: SetRef;
  readonly label: string;
  readonly type: 'ipv4_addr' | 'ipv6_addr';
  desired: RangeSet | undefined;
  /** Exact kernel contents as last made by us; undefined = unknown (the next write reads the set back first). */
  applied: RangeSet | undefined;
  /** Bumped whenever something else may have changed the set (see invalidate). */
  invalidations = 0;
  lastApplyAt: number | undefined;
  lastError: string | undefined;
  readonly echo = new EchoFilter();
  retryTimer: NodeJS.Timeout | undefined;
  retryDelayMs = 1000;
  refillTimer: NodeJS.Timeout | undefined;
  /** Type/flags/auto-merge checked once per process (a listing is costly on big sets). */
  flagsChecked = false;
  /** The list whose model fills it (the last one applied, when two lists share a set). */
  list = '';

  /**
   * The kernel set may no longer be what we wrote (a foreign change, lost events). A write already
   * in flight must not then record its model as applied when it ends: writeGroup compares counts.
   */
  invalidate(): void {
    this.applied = undefined;
    this.invalidations++;
  }

  constructor(
    family: NftFamily,
    table: string,
    set: string,
    readonly ipFamily: 'ipv4' | 'ipv6',
    readonly netns: string | undefined,
    public createSets: boolean,
  ) {
    this.ref = { family, table, set };
    this.type = ipFamily === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
    this.label = `${setRefText(this.ref)}${netns ? ` (netns ${netns})` : ''}`;
  }
}

export interface WriterDeps {
  backend: NftBackend;
  /** Range operations per transaction, at most (setSync.maxTransactionPrefixes). */
  bound: number;
  /** Range operations per bulk transaction while nobody else listens (setSync.maxQuietTransactionPrefixes). */
  quietBound: number;
  costs: CostModel;
  metrics: SetSyncMetrics;
  logger: Logger;
  /** Where what was applied is kept across runs (the oneshot `sync`); without it every first write reads back. */
  records?: RecordKeeper;
  /** Counts this write's transactions (set by writeGroup while records are kept). */
  tally?: WriteTally;
}

/** A set's key in the records: one namespace's record holds all its sets. */
export const recordKey = (s: SetState): string => `${s.ref.family}|${s.ref.table}|${s.ref.set}`;

/** After one of our transactions: did it certainly change the ruleset (see record-keeper.ts)? */
function tallied(d: WriterDeps, ok: boolean, changed: boolean): void {
  if (!d.tally) return;
  if (ok && changed) d.tally.definite++;
  else d.tally.uncertain++;
}

function missingError(s: SetState, what: 'table' | 'set'): SidecarError {
  const where = s.netns ? ` in netns ${s.netns}` : '';
  const msg =
    what === 'set'
      ? `table ${s.ref.family} ${s.ref.table}${where} has no set ${s.ref.set}; create it (type ${s.type}; flags interval) or set "createSets": true`
      : `table ${s.ref.family} ${s.ref.table} does not exist${where} (needed for set ${s.ref.set}); create it with the set (type ${s.type}; flags interval) or set "createSets": true`;
  return new NftSetError('NFT_SET_MISSING', 'set-sync', msg, [s.ref]);
}

/** One transaction, announced to the echo filter first. */
async function send(d: WriterDeps, s: SetState, cmds: NftCommand[], echo: { adds: number; deletes: number; flush: boolean }): Promise<void> {
  const done = s.echo.expect(echo);
  try {
    await d.backend.apply(cmds, s.netns);
    done(true);
    tallied(d, true, echo.adds + echo.deletes > 0);
  } catch (err) {
    done(false);
    tallied(d, false, false);
    throw err;
  }
}

/** `add table` / `add set` for a createSets member: idempotent, so it rides in the set's first transaction. */
function createCommands(members: readonly Member[]): NftCommand[] {
  const first = members.find((m) => m.s.createSets);
  if (!first) return [];
  return [addTableCommand(first.s.ref.family, first.s.ref.table), ...members.filter((m) => m.s.createSets).map((m) => addSetCommand(m.s.ref, m.s.type))];
}

/**
 * ONE transaction (flush + add) for the given sets of a table: atomic, so packets never see a
 * half-filled set. Only called when the flushed and the added ranges together fit in the bound.
 * Sets of one table go together because nft 1.0.6 lists (quadratic kernel dump) every interval
 * set of the table that the transaction does not flush before touching any element.
 */
async function fullLoad(d: WriterDeps, members: readonly Member[]): Promise<void> {
  const first = members[0];
  if (!first) return;
  const cmds: NftCommand[] = createCommands(members);
  for (const { s } of members) cmds.push(flushSetCommand(s.ref));
  for (const { s, desired } of members) if (desired.size > 0) cmds.push(elementCommand('add', s.ref, elementsJson(desired)));
  const dones = members.map(({ s, desired }) => s.echo.expect({ adds: desired.size, deletes: 0, flush: true }));
  try {
    await d.backend.apply(cmds, first.s.netns);
    for (const done of dones) done(true);
    // Adds after a flush always make new elements; a flush alone may change nothing.
    tallied(
      d,
      true,
      members.some((m) => m.desired.size > 0),
    );
  } catch (err) {
    for (const done of dones) done(false);
    tallied(d, false, false);
    for (const { s } of members) {
      const desc = await d.backend.describeSet(s.ref, s.netns).catch(() => undefined);
      if (desc?.kind === 'missing') throw missingError(s, desc.what);
    }
    throw err;
  }
}

export interface Member {
  readonly s: SetState;
  readonly desired: RangeSet;
}

/**
 * The plan's chunks, one transaction each. A bulk plan's chunks are of the quiet bound: each is sent
 * whole while nobody but us listens (asked before every one of them), else cut again by the normal
 * bound. Returns how many transactions were sent.
 */
async function applyDiff(d: WriterDeps, m: Member, plan: Extract<SyncPlan, { mode: 'diff' }>, quiet: () => QuietWindow | undefined): Promise<number> {
  const { s } = m;
  let create = createCommands([m]);
  let sent = 0;
  const write = async (c: DiffChunk): Promise<void> => {
    const cmds: NftCommand[] = create;
    create = [];
    if (c.removed.size > 0) cmds.push(elementCommand('delete', s.ref, elementsJson(c.removed)));
    if (c.added.size > 0) cmds.push(elementCommand('add', s.ref, elementsJson(c.added)));
    // After a failed chunk the kernel holds a consistent mix (see chunkDiff), not `applied`.
    s.applied = undefined;
    sent++;
    await send(d, s, cmds, { adds: c.added.size, deletes: c.removed.size, flush: false });
  };
  for (const c of plan.chunks) {
    const w = plan.bulk ? quiet() : undefined;
    if (!plan.bulk || (w && (await w.quiet()))) await write(c);
    else for (const part of chunkDiff(c.removed, c.added, d.bound)) await write(part);
  }
  return sent;
}

/** A set as read back: its exact elements, or only how many there are when they cannot be diffed against. */
export type KernelContents = { kind: 'exact'; set: RangeSet } | { kind: 'opaque'; elements: number };

const sizeOf = (k: KernelContents): number => (k.kind === 'exact' ? k.set.size : k.elements);

/**
 * Plans every member against what the kernel holds and writes it, no transaction over the bound:
 * all members in one flush + add when old + new of the whole group fit (and the costs favour it),
 * else each set by its own plan (bounded chunks of the exact difference).
 */
async function applyGroup(d: WriterDeps, members: readonly Member[], kernel: readonly KernelContents[]): Promise<Planned[]> {
  // Every element write lists the table's other interval sets too (nft 1.0.6): charge the diff for all of them.
  const groupSize = kernel.reduce((n, k) => n + sizeOf(k), 0);
  const fullSize = members.reduce((n, m) => n + m.desired.size, 0);
  const fits = groupSize + fullSize <= d.bound;
  const fullPlans = (): Planned[] => members.map((m, i) => ({ plan: { mode: 'full', added: m.desired.size, removed: sizeOf(kernel[i]!), unchanged: 0 }, transactions: 1 }));
  if (kernel.some((k) => k.kind === 'opaque')) {
    if (!fits) {
      const set = members.find((_, i) => kernel[i]?.kind === 'opaque')?.s.label ?? '?';
      throw new SidecarError(
        'NFT_APPLY_FAILED',
        'set-sync',
        `set ${set} holds elements that cannot be diffed against (overlapping or of another family), and a flush + reload of ${groupSize + fullSize} ranges would exceed setSync.maxTransactionPrefixes (${d.bound}); flush the set by hand (nft flush set …) and it is refilled in bounded chunks`,
      );
    }
    await fullLoad(d, members);
    return fullPlans();
  }
  const quietBound = d.backend.quietWindow ? d.quietBound : undefined;
  const costs: CostModel = { diffSeconds: (_n, r, a, c) => d.costs.diffSeconds(groupSize, r, a, c), fullSeconds: (n) => d.costs.fullSeconds(n) };
  const plans = members.map((m, i) => planSync((kernel[i] as Extract<KernelContents, { kind: 'exact' }>).set, m.desired, d.bound, costs, quietBound));
  const diffCost = plans.reduce((t, p) => t + (p.mode === 'diff' ? costs.diffSeconds(groupSize, p.removed, p.added, p.chunks.length) : p.mode === 'full' ? Infinity : 0), 0);
  if (fits && (plans.some((p) => p.mode === 'full') || diffCost > costs.fullSeconds(fullSize))) {
    await fullLoad(d, members);
    return fullPlans();
  }
  // One quiet window for the group's bulk writes, opened by the first of them.
  let window: QuietWindow | undefined;
  const quiet = (): QuietWindow | undefined => (window ??= d.backend.quietWindow?.());
  const out: Planned[] = [];
  try {
    for (const [i, p] of plans.entries()) {
      const m = members[i]!;
      if (p.mode === 'diff') out.push({ plan: p, transactions: await applyDiff(d, m, p, quiet) });
      else if (p.mode === 'full') {
        await fullLoad(d, [m]);
        out.push({ plan: p, transactions: 1 });
      } else out.push({ plan: p, transactions: 0 });
    }
  } finally {
    await window?.end();
  }
  return out;
}

/** A plan and the transactions it took (a bulk plan's count depends on who listened). */
interface Planned {
  plan: SyncPlan;
  transactions: number;
}

/**
 * Reads the kernel set back. A missing set with createSets counts as empty (the first transaction
 * creates it); without createSets it is NFT_SET_MISSING.
 */
export async function readKernel(d: WriterDeps, s: SetState): Promise<KernelContents> {
  const read = await readElements(d, s);
  if (read.kind === 'missing') {
    if (s.createSets) return { kind: 'exact', set: emptyRangeSet(s.ipFamily) };
    throw missingError(s, read.what);
  }
  return read.exact ? { kind: 'exact', set: read.exact } : { kind: 'opaque', elements: read.size };
}

/** The set's elements as an exact model where they can be diffed against (else only their count). */
async function readElements(d: WriterDeps, s: SetState): Promise<{ kind: 'missing'; what: 'table' | 'set' } | { kind: 'read'; exact: RangeSet | undefined; size: number }> {
  // Packed ranges where the backend reads the kernel itself (netlink): no object per element.
  if (d.backend.readRanges) {
    const r = await d.backend.readRanges(s.ref, s.netns);
    if (r.kind === 'missing') return r;
    // Keys of the other family (a set declared with the wrong type) cannot be diffed against, as with listSet.
    return { kind: 'read', exact: r.set.family === s.ipFamily ? exactIfDisjoint(r.set) : undefined, size: r.set.size };
  }
  const listing = await d.backend.listSet(s.ref, s.netns);
  if (listing.kind === 'missing') return listing;
  return { kind: 'read', exact: exactFromElements(s.ipFamily, listing.set.elements), size: listing.set.elements.length };
}

type Recall = (s: SetState) => Promise<RangeSet | undefined>;

/**
 * `applied` where we know it, else the record of an earlier run where it still holds, else the set
 * read back — one at a time: a listing has its own transient cost.
 */
async function known(d: WriterDeps, members: readonly Member[], applied: readonly (RangeSet | undefined)[], recall: Recall | undefined, basis: KnownBasis[]): Promise<KernelContents[]> {
  const out: KernelContents[] = [];
  for (const [i, m] of members.entries()) {
    const a = applied[i];
    const r = a ? undefined : await recall?.(m.s);
    basis[i] = a ? 'memory' : r ? 'record' : 'readback';
    const set = a ?? r;
    out.push(set ? { kind: 'exact', set } : await readKernel(d, m.s));
  }
  return out;
}

/**
 * Makes the sets of one table equal to their models, never sending a transaction over the bound.
 * What the kernel holds is never assumed: a set whose contents this process has not written (the
 * first write, a refill after a flush or reload, after a failure) is read back first and the
 * exact difference applied in bounded chunks. A failed write is retried once from a fresh
 * readback; a second failure is reported.
 */
export async function writeGroup(d: WriterDeps, members: readonly Member[]): Promise<ApplyReport[]> {
  const keeper = d.records;
  const netns = members[0]?.s.netns;
  if (!keeper || members.length === 0) return writeKnown(d, members, undefined);
  return keeper.exclusive(netns, async () => {
    const before = await keeper.stamp(netns);
    const tally: WriteTally = { definite: 0, uncertain: 0 };
    const reports = await writeKnown({ ...d, tally }, members, (s) => keeper.recall(netns, recordKey(s), before));
    const after = before && (await keeper.stamp(netns));
    await keeper.settle(netns, before, after, tally, new Map(members.map((m) => [recordKey(m.s), m.desired])));
    return reports;
  });
}

async function writeKnown(d: WriterDeps, members: readonly Member[], recall: Recall | undefined): Promise<ApplyReport[]> {
  const t0 = performance.now();
  const basis: KnownBasis[] = members.map(() => 'readback');
  const before = members.map((m) => m.s.applied);
  const invalidations = members.map((m) => m.s.invalidations);
  let plans: Planned[];
  try {
    try {
      plans = await applyGroup(d, members, await known(d, members, before, recall, basis));
    } catch (err) {
      if (isSidecarError(err, 'NFT_SET_MISSING')) throw err;
      d.logger.warn({ sets: members.map((m) => m.s.label), err: errorMessage(err) }, 'set-sync: apply failed; reading the sets back to resync');
      for (const m of members) d.metrics.applyFailures.inc({ set: m.s.label, reason: 'nft' });
      // Not from the record either: a failed transaction may have committed part of what it carried.
      plans = await applyGroup(
        d,
        members,
        await known(
          d,
          members,
          members.map(() => undefined),
          undefined,
          basis,
        ),
      );
    }
  } catch (err) {
    // One transaction carries the whole group: a set the error is not about was not applied
    // because of another one, and its status must say so rather than repeat the other's error.
    const blamed = err instanceof NftSetError && err.sets.length > 0 ? err.sets.map(setRefText) : undefined;
    for (const { s } of members) {
      s.applied = undefined;
      const own = !blamed || blamed.includes(setRefText(s.ref));
      s.lastError = own ? errorMessage(err) : `set-sync: ${s.label} not applied: it is written in one transaction with ${blamed.join(', ')}, which failed: ${errorMessage(err)}`;
      d.metrics.applyFailures.inc({ set: s.label, reason: own && isSidecarError(err, 'NFT_SET_MISSING') ? 'missing' : 'nft' });
    }
    throw err;
  }
  const durationMs = performance.now() - t0;
  d.metrics.applyDuration.observe(durationMs / 1000);
  return members.map(({ s, desired }, i) => {
    // Invalidated while we wrote (a reload landed after our commit): unknown again; its refill is scheduled.
    s.applied = s.invalidations === invalidations[i] ? desired : undefined;
    s.lastError = undefined;
    s.lastApplyAt = Date.now();
    d.metrics.elements.set({ set: s.label }, desired.size);
    d.metrics.lastApply.set({ set: s.label }, Math.floor(s.lastApplyAt / 1000));
    const p = plans[i]!;
    return { ...report(s, p.plan, durationMs, p.transactions), basis: basis[i] ?? 'readback' };
  });
}

export function report(s: SetState, plan: SyncPlan, durationMs: number, transactions?: number): ApplyReport {
  switch (plan.mode) {
    case 'noop':
      return { set: s.label, mode: 'noop', added: 0, removed: 0, unchanged: plan.unchanged, transactions: 0, durationMs };
    case 'full':
      return { set: s.label, mode: 'full', added: plan.added, removed: plan.removed, unchanged: 0, transactions: transactions ?? 1, durationMs };
    case 'diff':
      return { set: s.label, mode: 'diff', added: plan.added, removed: plan.removed, unchanged: plan.unchanged, transactions: transactions ?? plan.chunks.length, durationMs };
    default: {
      const never: never = plan;
      return never;
    }
  }
}
