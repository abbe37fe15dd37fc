import type { Logger } from 'pino';
import { errorMessage, isSidecarError, SidecarError } from '../errors.js';
import type { RangeSet } from '../lib/ip-prefix/index.js';
import { NftSetError, type NftBackend } from '../lib/nft/nft-backend.js';
import { addSetCommand, addTableCommand, elementCommand, flushSetCommand, setRefText, type NftCommand, type NftFamily, type SetRef } from '../lib/nft/nft-json.js';
import { EchoFilter } from './echo-filter.js';
import type { SetSyncMetrics } from './metrics.js';
import { exactFromElements } from './readback.js';
import { elementsJson, planSync, type CostModel, type SyncPlan } from './set-plan.js';

export interface ApplyReport { set: string; mode: 'full' | 'diff' | 'noop'; added: number; removed: number; unchanged: number; durationMs: number }

/** Above this many elements a readback costs seconds of kernel time (quadratic dump): reload whole instead. */
const READBACK_MAX = 100_000;

/** One nft set and what we know about it. */
export class SetState {
  readonly ref: SetRef;
  readonly label: string;
  readonly type: 'ipv4_addr' | 'ipv6_addr';
  desired: RangeSet | undefined;
  /** Exact kernel contents as last made by us; undefined = unknown (the next write is a full load). */
  applied: RangeSet | undefined;
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

  constructor(
    family: NftFamily,
    table: string,
    set: string,
    readonly ipFamily: 'ipv4' | 'ipv6',
    readonly netns: string | undefined,
    public createSets: boolean,
    public chunkSize: number,
  ) {
    this.ref = { family, table, set };
    this.type = ipFamily === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
    this.label = `${setRefText(this.ref)}${netns ? ` (netns ${netns})` : ''}`;
  }
}

export interface WriterDeps {
  backend: NftBackend;
  costs: CostModel;
  metrics: SetSyncMetrics;
  logger: Logger;
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
  } catch (err) {
    done(false);
    throw err;
  }
}

/**
 * One transaction filling every set of a table we own: flush + add each. They go together because
 * nft 1.0.6 lists (quadratic kernel dump) every interval set of the table that the transaction does
 * not flush before touching any element: refilling force_vpn6 alone would first dump a 700k-element
 * force_vpn4 (~35 s); flushing both in one batch skips both listings.
 */
async function fullLoad(d: WriterDeps, members: readonly Member[]): Promise<void> {
  const first = members[0];
  if (!first) return;
  const cmds: NftCommand[] = [];
  // createSets: `add` is idempotent for an existing table/set, so it rides in the same transaction.
  if (first.s.createSets) cmds.push(addTableCommand(first.s.ref.family, first.s.ref.table));
  for (const { s } of members) if (s.createSets) cmds.push(addSetCommand(s.ref, s.type));
  for (const { s } of members) cmds.push(flushSetCommand(s.ref));
  for (const { s, desired } of members) if (desired.size > 0) cmds.push(elementCommand('add', s.ref, elementsJson(desired)));
  const dones = members.map(({ s, desired }) => s.echo.expect({ adds: desired.size, deletes: 0, flush: true }));
  try {
    await d.backend.apply(cmds, first.s.netns);
    for (const done of dones) done(true);
  } catch (err) {
    for (const done of dones) done(false);
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

async function applyDiff(d: WriterDeps, s: SetState, plan: Extract<SyncPlan, { mode: 'diff' }>): Promise<void> {
  for (const c of plan.chunks) {
    const cmds: NftCommand[] = [];
    if (c.removed.size > 0) cmds.push(elementCommand('delete', s.ref, elementsJson(c.removed)));
    if (c.added.size > 0) cmds.push(elementCommand('add', s.ref, elementsJson(c.added)));
    // After a failed chunk the kernel holds a consistent mix (see chunkDiff), not `applied`.
    s.applied = undefined;
    await send(d, s, cmds, { adds: c.added.size, deletes: c.removed.size, flush: false });
  }
}

/** Plans every member against `applied` (what we believe or read back); any full plan makes the whole group one full transaction. */
async function applyGroup(d: WriterDeps, members: readonly Member[], applied: readonly (RangeSet | undefined)[]): Promise<SyncPlan[]> {
  // Every element write lists the table's other interval sets too: charge the diff for all of them.
  const groupSize = applied.reduce((n, a) => n + (a?.size ?? 0), 0);
  const costs: CostModel = { diffSeconds: (_n, r, a, c) => d.costs.diffSeconds(groupSize, r, a, c), fullSeconds: (n) => d.costs.fullSeconds(n) };
  const plans = members.map((m, i) => planSync(applied[i], m.desired, m.s.chunkSize, costs));
  const fullSize = members.reduce((n, m) => n + m.desired.size, 0);
  const diffCost = plans.reduce((t, p) => t + (p.mode === 'diff' ? costs.diffSeconds(groupSize, p.removed, p.added, p.chunks.length) : p.mode === 'full' ? Infinity : 0), 0);
  if (plans.some((p) => p.mode === 'full') || diffCost > costs.fullSeconds(fullSize)) {
    await fullLoad(d, members);
    return members.map((m, i) => ({ mode: 'full', added: m.desired.size, removed: applied[i]?.size, unchanged: 0 }));
  }
  for (const [i, p] of plans.entries()) if (p.mode === 'diff') await applyDiff(d, members[i]!.s, p);
  return plans;
}

/** Reads the kernel set back as an exact model; undefined when it cannot be diffed against. */
export async function readKernel(d: WriterDeps, s: SetState): Promise<RangeSet | undefined> {
  const listing = await d.backend.listSet(s.ref, s.netns);
  if (listing.kind === 'missing') throw missingError(s, listing.what);
  return exactFromElements(s.ipFamily, listing.set.elements);
}

/**
 * Makes the sets of one table equal to their models. On failure it never assumes: it reads the
 * sets back (when small enough for that to be cheap) and applies the difference from what is
 * really there, or reloads them whole in one transaction; a second failure is reported.
 */
export async function writeGroup(d: WriterDeps, members: readonly Member[]): Promise<ApplyReport[]> {
  const t0 = performance.now();
  const before = members.map((m) => m.s.applied);
  let plans: SyncPlan[];
  try {
    try {
      plans = await applyGroup(d, members, before);
    } catch (err) {
      if (isSidecarError(err, 'NFT_SET_MISSING')) throw err;
      d.logger.warn({ sets: members.map((m) => m.s.label), err: errorMessage(err) }, 'set-sync: apply failed; reading the sets back to resync');
      for (const m of members) d.metrics.applyFailures.inc({ set: m.s.label, reason: 'nft' });
      const size = members.reduce((n, m, i) => n + (before[i]?.size ?? m.desired.size), 0);
      const kernel = size <= READBACK_MAX ? await Promise.all(members.map((m) => readKernel(d, m.s))) : members.map(() => undefined);
      plans = await applyGroup(d, members, kernel);
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
    s.applied = desired;
    s.lastError = undefined;
    s.lastApplyAt = Date.now();
    d.metrics.elements.set({ set: s.label }, desired.size);
    d.metrics.lastApply.set({ set: s.label }, Math.floor(s.lastApplyAt / 1000));
    return report(s, plans[i]!, durationMs);
  });
}

function report(s: SetState, plan: SyncPlan, durationMs: number): ApplyReport {
  if (plan.mode === 'noop') return { set: s.label, mode: 'noop', added: 0, removed: 0, unchanged: plan.unchanged, durationMs };
  return { set: s.label, mode: plan.mode, added: plan.added, removed: plan.removed ?? 0, unchanged: plan.unchanged, durationMs };
}

/** dryRun: compare with the kernel, touch nothing. */
export async function dryRunSet(d: WriterDeps, s: SetState, desired: RangeSet): Promise<ApplyReport> {
  const t0 = performance.now();
  const kernel = await readKernel(d, s);
  return report(s, planSync(kernel, desired, s.chunkSize, d.costs), performance.now() - t0);
}

/**
 * Warns about a set we can fill but not keep exact. auto-merge does not hurt our own writes (the
 * model is merged, so nothing we add is ever adjacent to what stays), but anything else added to an
 * auto-merge set gets folded into our elements and a later delete of ours then fails the whole
 * transaction (issue #3). Listing costs a quadratic kernel dump, so big sets are not checked.
 */
export async function checkFlags(d: WriterDeps, s: SetState): Promise<void> {
  if ((s.applied?.size ?? 0) > READBACK_MAX) {
    d.logger.debug({ set: s.label }, 'set-sync: flags check skipped (listing a set this size costs seconds of kernel time)');
    return;
  }
  const desc = await d.backend.describeSet(s.ref, s.netns);
  if (desc.kind !== 'ok') return;
  if (desc.autoMerge) {
    d.logger.warn(
      { set: s.label },
      `set-sync: set ${s.label} has auto-merge; remove it (type ${s.type}; flags interval, no auto-merge): elements added by anything else get folded into ours, and deleting a folded element fails the whole nft transaction`,
    );
  }
  if (!desc.flags.includes('interval') || desc.type !== s.type) {
    d.logger.warn({ set: s.label, type: desc.type, flags: desc.flags }, `set-sync: set ${s.label} should be type ${s.type} with flags interval`);
  }
}
