import { createHash } from 'node:crypto';
import type { SourceContains, SourceFormat } from './formats/index.js';

/**
 * Bump when a change to the readers (formats/), the entry parser (lib/ip-prefix) or the entry guard
 * makes one body yield other data: a body seen before is then parsed again. The golden test in
 * test/blocklist/body-digest.test.ts fails until it is bumped.
 */
export const PARSE_REVISION = 1;

/**
 * sha256 over what a source's data is a function of: the body, its format, and the list's guard
 * settings. A download with the same digest as the last good one is that data again, so it is not
 * parsed again (many servers send no ETag or Last-Modified; at 300k entries parsing is ~0.5 s of
 * CPU on a 2-core VM, more on a router).
 */
export function bodyDigest(body: Buffer, source: { format: SourceFormat; contains: SourceContains }, list: { minPrefix?: unknown; exclude?: readonly string[] }): string {
  const inputs = JSON.stringify({ revision: PARSE_REVISION, format: source.format, contains: source.contains, minPrefix: list.minPrefix ?? null, exclude: list.exclude ?? [] });
  return createHash('sha256').update(inputs).update('\0').update(body).digest('hex');
}
