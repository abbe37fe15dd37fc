import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { SerialQueues } from '../lib/concurrency/index.js';
import { rangeSetsEqual, type RangeSet } from '../lib/ip-prefix/index.js';
import type { KernelStamp, NftBackend } from '../lib/nft/nft-backend.js';
import { bootId, readRecord, recordHolds, recordPath, removeRecord, writeRecord, type NetnsRecord } from './applied-records.js';

/** Our transactions during one write: `definite` ones certainly changed something (they added or deleted elements); any other or failed one is `uncertain`. */
export interface WriteTally {
  definite: number;
  uncertain: number;
}

/** base_seq skips 0 when it wraps (nf_tables_commit: `while (++nft_net->base_seq == 0);`). */
const next = (g: number): number => (g + 1) >>> 0 || 1;

/**
 * Keeps the per-namespace records of applied-records.ts: recalls a set's contents while its
 * namespace is unchanged, and after each write either records what it left or forgets the
 * namespace. Writes of one namespace run one at a time under `exclusive` (counting our commits
 * between two stamps is exact only then).
 */
export class RecordKeeper {
  private readonly boot = bootId();
  /** Loaded records by namespace key; null = none. */
  private readonly cache = new Map<string, NetnsRecord | null>();
  private readonly locks = new SerialQueues();

  constructor(
    private readonly dir: string,
    private readonly backend: NftBackend,
    private readonly logger: Logger,
  ) {}

  exclusive<T>(netns: string | undefined, job: () => Promise<T>): Promise<T> {
    return this.locks.run(netns ?? '', job);
  }

  /** The namespace's stamp now; undefined where it cannot be told (then nothing is recalled or recorded). */
  async stamp(netns: string | undefined): Promise<KernelStamp | undefined> {
    if (this.boot === '' || !this.backend.kernelStamp) return undefined;
    return this.backend.kernelStamp(netns).catch((err: unknown) => {
      this.logger.debug({ netns, err: errorMessage(err) }, 'set-sync: ruleset generation unreadable; reading sets back');
      return undefined;
    });
  }

  /** The set's contents as recorded, when the namespace is still at `now`. */
  async recall(netns: string | undefined, key: string, now: KernelStamp | undefined): Promise<RangeSet | undefined> {
    if (now === undefined) return undefined;
    const rec = await this.load(netns);
    return rec && recordHolds(rec, this.boot, now) ? rec.sets.get(key) : undefined;
  }

  /**
   * After a successful write of `written` (set key → what it now holds): from `before` to `after`
   * nothing but our `tally.definite` commits happened → record it (with the namespace's other sets
   * still as recorded); else forget the namespace. A failed record write costs only a readback next time.
   */
  async settle(netns: string | undefined, before: KernelStamp | undefined, after: KernelStamp | undefined, tally: WriteTally, written: ReadonlyMap<string, RangeSet>): Promise<void> {
    const file = recordPath(this.dir, netns);
    let expected = before?.generation;
    for (let i = 0; expected !== undefined && i < tally.definite; i++) expected = next(expected);
    const exact = before !== undefined && after !== undefined && tally.uncertain === 0 && before.netnsCookie === after.netnsCookie && after.generation === expected;
    try {
      const prev = await this.load(netns);
      if (!exact) {
        if (prev === undefined) return;
        this.cache.set(netns ?? '', null);
        await removeRecord(file);
        return;
      }
      const kept = prev && recordHolds(prev, this.boot, before) ? prev : undefined;
      // Nothing committed and nothing new to say: leave the file as it is.
      if (
        kept &&
        tally.definite === 0 &&
        [...written].every(([k, set]) => {
          const old = kept.sets.get(k);
          return old !== undefined && rangeSetsEqual(old, set);
        })
      )
        return;
      const sets = new Map(kept?.sets ?? []);
      for (const [k, set] of written) sets.set(k, set);
      const rec: NetnsRecord = { bootId: this.boot, stamp: after, sets };
      this.cache.set(netns ?? '', rec);
      await writeRecord(file, rec);
    } catch (err) {
      this.cache.set(netns ?? '', null);
      this.logger.warn({ netns, file, err: errorMessage(err) }, 'set-sync: cannot keep the record of what was applied; the next sync reads the sets back');
      await removeRecord(file).catch(() => undefined);
    }
  }

  private async load(netns: string | undefined): Promise<NetnsRecord | undefined> {
    const key = netns ?? '';
    const have = this.cache.get(key);
    if (have !== undefined) return have ?? undefined;
    const file = recordPath(this.dir, netns);
    const r = await readRecord(file);
    if (r.kind === 'corrupt') this.logger.warn({ netns, file, reason: r.reason }, 'set-sync: ignoring a damaged record of what was applied; reading the sets back');
    const rec = r.kind === 'ok' ? r.record : null;
    this.cache.set(key, rec);
    return rec ?? undefined;
  }
}
