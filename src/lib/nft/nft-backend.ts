import { SidecarError, type SidecarErrorCode } from '../../errors.js';
import type { RangeSet } from '../ip-prefix/index.js';
import { startMonitor, type MonitorHandle, type MonitorOptions } from './monitor.js';
import { nftDocument, parseListSet, setRefText, type ListedSet, type NftCommand, type SetRef } from './nft-json.js';
import { runNft, runNftDocument } from './nft-runner.js';

/** What a set is, without its elements (`nft -t list set`). */
export type SetDescription = { kind: 'ok'; type: string; flags: readonly string[]; autoMerge: boolean } | { kind: 'missing'; what: 'table' | 'set' };

export type SetListing = { kind: 'ok'; set: ListedSet } | { kind: 'missing'; what: 'table' | 'set' };

/** A set's elements as exact (unmerged, sorted) ranges: the readback set-sync diffs against. */
export type RangeListing = { kind: 'ok'; set: RangeSet } | { kind: 'missing'; what: 'table' | 'set' };

/**
 * Which state of which namespace's ruleset this is: the ruleset generation (NFTA_GEN_ID, moved by
 * one with every commit that changes something: nf_tables_commit) in the namespace with this
 * SO_NETNS_COOKIE. Equal stamps mean nothing was committed there in between.
 */
export interface KernelStamp {
  readonly netnsCookie: string;
  readonly generation: number;
}

/**
 * A bulk load without notifications (netlink only: src/lib/nft/netlink/quiet-window.ts). Used as
 * `if (await w.quiet()) send a big transaction; else send bounded ones`, then `await w.end()`.
 */
export interface QuietWindow {
  /**
   * Before each bulk transaction: true when no socket but this process's subscriptions listens to
   * nf_tables notifications anywhere on the machine (ours are then deaf until end()); false when
   * another one does (or that cannot be told): then we hear again and the caller sends
   * transactions of the normal bound.
   */
  quiet(): Promise<boolean>;
  /** Hears again; anything committed by others meanwhile is reported `lost` to the subscription's consumers. */
  end(): Promise<void>;
}

/**
 * The OS seam for nftables (STYLE.md "Seams"). All of set-sync's kernel I/O goes through it.
 *
 * Cost contract, measured on nft 1.0.6 / Linux 6.x (src/lib/nft/README.md): any listing of a set
 * dumps every element and the kernel's set walk restarts from the first node for each ≤ 32 KiB
 * netlink message, so listing is quadratic in kernel time whichever backend reads (300k ranges:
 * ~9 s of system time). The netlink backend removes nft's JSON and process on top (300k: 14 MB
 * added RSS with `readRanges` vs a 389 MB nft process tree). Callers list only when they must.
 */
export interface NftBackend {
  /** Which implementation (callers pick its cost model): the nft binary, or netlink (src/lib/nft/netlink/). Fakes leave it out. */
  readonly kind?: 'cli' | 'netlink';
  /** Runs the commands as ONE transaction (one `nft -j -f` document): all or nothing. Rejects with NFT_APPLY_FAILED carrying nft's stderr. */
  apply(commands: Iterable<NftCommand>, netns?: string): Promise<void>;
  /** Type, flags and auto-merge of a set, or which of table/set is missing. */
  describeSet(ref: SetRef, netns?: string): Promise<SetDescription>;
  /** The set with its elements as stored (exact shapes, not merged). */
  listSet(ref: SetRef, netns?: string): Promise<SetListing>;
  /**
   * The same elements packed (no object per element: a 1M-element set is 8 MB, not ~100 MB of
   * JSON-shaped objects). Only backends that read the kernel directly have it (netlink).
   */
  readRanges?(ref: SetRef, netns?: string): Promise<RangeListing>;
  /**
   * Follows changes in the namespace: netlink delivers each event with an exact `origin`
   * (own/foreign) and reports `lost` when the kernel dropped events; the CLI follows
   * `nft -j monitor`, which cannot attribute.
   */
  monitor(opts: MonitorOptions): MonitorHandle;
  /** The namespace's current stamp (netlink only; undefined where the kernel has no netns cookie). */
  kernelStamp?(netns?: string): Promise<KernelStamp | undefined>;
  /**
   * For a bulk load (netlink only): while nobody but this process listens (in any namespace: the
   * kernel's check is machine-wide), its subscriptions stop listening, so the kernel builds no
   * notification per element, and anything others commit meanwhile is reported to monitors as `lost`.
   */
  quietWindow?(): QuietWindow;
}

/**
 * An error about particular sets: the ones a refused transaction was refused for (the kernel's
 * error names the message, the message names the set), or the set that is missing. A caller that
 * wrote several sets in one transaction tells from `sets` which of them is at fault; an empty list
 * means the error does not say (a whole-batch error).
 */
export class NftSetError extends SidecarError {
  constructor(
    code: SidecarErrorCode,
    capability: string,
    message: string,
    readonly sets: readonly SetRef[],
    options?: { cause?: unknown },
  ) {
    super(code, capability, message, options);
  }
}

/** Which name the caret in nft's "No such file or directory" points at: `list set inet T S` then `^^^`. */
export function missingFromStderr(stderr: string, ref: SetRef): 'table' | 'set' | undefined {
  if (!/No such file or directory/.test(stderr)) return undefined;
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.startsWith('list set '));
  const caret = lines[i + 1];
  if (i < 0 || caret === undefined) return 'set';
  const col = caret.indexOf('^');
  const tableCol = `list set ${ref.family} `.length;
  return col === tableCol ? 'table' : 'set';
}

/**
 * Deadline of one nft run. The longest legitimate runs are a full load of a 1M-element set (~8 s
 * on nft 1.0.6) and a listing of 300k (~8 s; listings are quadratic, and set-sync lists at most
 * 100k, ~1 s). 60 s is several times those and bounds how long one stuck nft (waiting on the
 * commit mutex another process holds) delays every later write; past it nft is killed and the
 * set read back and repaired like after any failed transaction.
 */
export const NFT_CLI_TIMEOUT_MS = 60_000;

export function createNftBackend(opts: { timeoutMs?: number } = {}): NftBackend {
  const timeoutMs = opts.timeoutMs ?? NFT_CLI_TIMEOUT_MS;
  return {
    kind: 'cli',
    async apply(commands, netns) {
      const r = await runNftDocument(nftDocument(commands), { timeoutMs, ...(netns !== undefined ? { netns } : {}) });
      if (r.code === null) throw new SidecarError('NFT_TIMEOUT', 'nft', `transaction killed after ${timeoutMs} ms: ${r.stderr || 'no message'}`);
      if (r.code !== 0) {
        throw new SidecarError('NFT_APPLY_FAILED', 'nft', `transaction failed (exit ${r.code}): ${r.stderr || 'no message'}`);
      }
    },

    async describeSet(ref, netns) {
      const r = await runNft(['-t', 'list', 'set', ref.family, ref.table, ref.set], { timeoutMs, ...(netns !== undefined ? { netns } : {}) });
      if (r.code !== 0) {
        const what = missingFromStderr(r.stderr, ref);
        if (what) return { kind: 'missing', what };
        throw new SidecarError('NFT_APPLY_FAILED', 'nft', `list set ${setRefText(ref)} failed: ${r.stderr}`);
      }
      // JSON output of nft 1.0.6 omits auto-merge, so this one reads the text form.
      const type = /^\s*type\s+(\S+)/m.exec(r.stdout)?.[1] ?? 'unknown';
      const flags = (/^\s*flags\s+([^\n]+)/m.exec(r.stdout)?.[1] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return { kind: 'ok', type, flags, autoMerge: /^\s*auto-merge\s*$/m.test(r.stdout) };
    },

    async listSet(ref, netns) {
      const r = await runNft(['-j', 'list', 'set', ref.family, ref.table, ref.set], { timeoutMs, ...(netns !== undefined ? { netns } : {}) });
      if (r.code !== 0) {
        const what = missingFromStderr(r.stderr, ref);
        if (what) return { kind: 'missing', what };
        throw new SidecarError('NFT_APPLY_FAILED', 'nft', `list set ${setRefText(ref)} failed: ${r.stderr}`);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(r.stdout);
      } catch (err) {
        throw new SidecarError('NFT_APPLY_FAILED', 'nft', `list set ${setRefText(ref)}: output is not JSON`, { cause: err });
      }
      return { kind: 'ok', set: parseListSet(doc) };
    },

    monitor: (o) => startMonitor(o),
  };
}
