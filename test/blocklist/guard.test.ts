import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideSource, type SourceAttempt, type SourceState } from '../../src/blocklist/guard.js';
import { emptyRangeSet } from '../../src/lib/ip-prefix/range-writer.js';

const state = (parsed: number, etag = '"a"'): SourceState => ({ url: 'u', etag, fetchedAt: 1, parsed, ipv4: emptyRangeSet('ipv4'), ipv6: emptyRangeSet('ipv6'), domains: [] });
const parsed = (n: number): SourceAttempt => ({ kind: 'parsed', state: state(n, '"b"') });

test('decideSource: keep last good on failure or a collapse below minRatio, per source', () => {
  const cases: [string, SourceState | undefined, SourceAttempt, number, string][] = [
    ['first download', undefined, parsed(100), 0.5, 'updated'],
    ['first download, empty', undefined, parsed(0), 0.5, 'updated'],
    ['normal refresh', state(100), parsed(97), 0.5, 'updated'],
    ['grew', state(100), parsed(300), 0.5, 'updated'],
    ['exactly at the ratio', state(100), parsed(50), 0.5, 'updated'],
    ['shrank to 2', state(100), parsed(2), 0.5, 'kept-last-good:below-min-ratio'],
    ['shrank to 0', state(100), parsed(0), 0.5, 'kept-last-good:below-min-ratio'],
    ['minRatio 0 accepts anything', state(100), parsed(0), 0, 'updated'],
    ['minRatio 1 refuses any shrink', state(100), parsed(99), 1, 'kept-last-good:below-min-ratio'],
    ['timeout with data', state(100), { kind: 'fetch-failed', reason: 'timeout', error: 't' }, 0.5, 'kept-last-good:timeout'],
    ['timeout without data', undefined, { kind: 'fetch-failed', reason: 'timeout', error: 't' }, 0.5, 'failed:timeout'],
    ['truncated JSON', state(100), { kind: 'parse-failed', error: 'x' }, 0.5, 'kept-last-good:parse'],
    ['304', state(100), { kind: 'not-modified' }, 0.5, 'not-modified'],
    ['304 without data', undefined, { kind: 'not-modified' }, 0.5, 'failed:http-status'],
  ];
  for (const [name, prev, attempt, ratio, want] of cases) {
    const d = decideSource(prev, attempt, ratio);
    const got = d.outcome === 'kept-last-good' || d.outcome === 'failed' ? `${d.outcome}:${d.reason}` : d.outcome;
    assert.equal(got, want, name);
    // Kept data is the previous state itself (its old ETag too: the refused download's ETag must not stick).
    if (d.outcome === 'kept-last-good' || d.outcome === 'not-modified') assert.equal(d.state, prev, name);
  }
});
