import type { RangeSet } from '../lib/ip-prefix/index.js';
import { planSync, type SyncPlan } from './set-plan.js';
import { readKernel, recordKey, report, type ApplyReport, type KernelContents, type SetState, type WriterDeps } from './set-sync.js';

/** Looking at a set without writing it: what a write would do (dryRun), and whether its declaration suits us. */

/** `nft list set` (the CLI backend's describeSet) dumps the elements too (quadratic): above this the flags check is skipped there. Netlink asks GETSET, which costs nothing. */
const FLAGS_CHECK_MAX = 100_000;

/** dryRun: compare with the kernel (or the record of what an earlier run left there, while it holds), touch nothing. */
export async function dryRunSet(d: WriterDeps, s: SetState, desired: RangeSet): Promise<ApplyReport> {
  const t0 = performance.now();
  const recorded = s.applied ?? (d.records ? await d.records.recall(s.netns, recordKey(s), await d.records.stamp(s.netns)) : undefined);
  const kernel: KernelContents = recorded ? { kind: 'exact', set: recorded } : await readKernel(d, s);
  const plan: SyncPlan =
    kernel.kind === 'exact'
      ? planSync(kernel.set, desired, d.bound, d.costs, d.backend.quietWindow ? d.quietBound : undefined)
      : { mode: 'full', added: desired.size, removed: kernel.elements, unchanged: 0 };
  return { ...report(s, plan, performance.now() - t0), basis: s.applied ? 'memory' : recorded ? 'record' : 'readback' };
}

/**
 * Warns about a set we can fill but not keep exact. auto-merge does not hurt our own writes (the
 * model is merged, so nothing we add is ever adjacent to what stays), but anything else added to an
 * auto-merge set gets folded into our elements and a later delete of ours then fails the whole
 * transaction (measured on the router: src/set-sync/README.md, "Why no auto-merge").
 */
export async function checkFlags(d: WriterDeps, s: SetState): Promise<void> {
  if (d.backend.kind !== 'netlink' && (s.applied?.size ?? 0) > FLAGS_CHECK_MAX) {
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
