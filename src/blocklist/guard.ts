import type { FetchFailureReason } from '../lib/fetch/index.js';
import type { RangeSet } from '../lib/ip-prefix/range-set.js';

/**
 * Per source: a download that fails, cannot be parsed, or parses to fewer than
 * `minRatio` × the last good count keeps the last good data — an empty or truncated registry
 * response must never empty a routing set. Pure, so the rule is pinned by a table test.
 */

/** The last good data of one source (what the snapshot stores and the model is the union of). */
export interface SourceState {
  url: string;
  etag?: string;
  lastModified?: string;
  /** When this data was downloaded, ms since the epoch. */
  fetchedAt: number;
  /** Entries taken when it was parsed: the guard's baseline. */
  parsed: number;
  /** body-digest.ts of the body it was parsed from: an identical download is not parsed again. */
  bodyDigest?: string;
  ipv4: RangeSet;
  ipv6: RangeSet;
  domains: readonly string[];
}

export type SourceFailureReason = FetchFailureReason | 'parse' | 'below-min-ratio' | 'too-many-entries';

export type SourceAttempt =
  | { kind: 'fetch-failed'; reason: FetchFailureReason; error: string }
  | { kind: 'not-modified' }
  | { kind: 'parse-failed'; error: string }
  /** Parsing stopped at the list's maxEntries/maxDomains cap (bounded memory, and kernel memory after it). */
  | { kind: 'over-cap'; error: string }
  | { kind: 'parsed'; state: SourceState };

export type SourceDecision =
  | { outcome: 'updated'; state: SourceState }
  | { outcome: 'not-modified'; state: SourceState }
  | { outcome: 'kept-last-good'; state: SourceState; reason: SourceFailureReason; error: string }
  | { outcome: 'failed'; reason: SourceFailureReason; error: string };

export function decideSource(prev: SourceState | undefined, attempt: SourceAttempt, minRatio: number): SourceDecision {
  const keepOrFail = (reason: SourceFailureReason, error: string): SourceDecision => (prev ? { outcome: 'kept-last-good', state: prev, reason, error } : { outcome: 'failed', reason, error });
  switch (attempt.kind) {
    case 'fetch-failed':
      return keepOrFail(attempt.reason, attempt.error);
    case 'parse-failed':
      return keepOrFail('parse', attempt.error);
    case 'over-cap':
      return keepOrFail('too-many-entries', attempt.error);
    case 'not-modified':
      // Validators are only sent with data in hand, so a 304 without it is the server's mistake.
      return prev ? { outcome: 'not-modified', state: prev } : { outcome: 'failed', reason: 'http-status', error: '304 Not Modified without a previous download' };
    case 'parsed': {
      const n = attempt.state.parsed;
      if (prev && n < minRatio * prev.parsed) {
        return keepOrFail('below-min-ratio', `parsed ${n} entries, fewer than ${minRatio} × last good ${prev.parsed}`);
      }
      return { outcome: 'updated', state: attempt.state };
    }
    default: {
      const never: never = attempt;
      throw new Error(`unreachable ${String(never)}`);
    }
  }
}
