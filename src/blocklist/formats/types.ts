/** Where a format parser puts what it finds; the accumulator behind it validates and counts. */
export interface EntrySink {
  /** One raw entry (untrimmed is fine). `false`: the sink is full; the reader stops at once (the sink knows why). */
  entry(text: string): boolean;
  /** Something in the document that is not an entry at all (a number in a JSON array). */
  reject(reason: 'not-a-string', sample: string): void;
  /** Forget everything so far: the JSON fast path hands over to the general parser. */
  reset(): void;
}

/** A document-level failure (truncated JSON, no array): the whole download is unusable. */
export type FormatResult = { kind: 'read' } | { kind: 'failed'; error: string };

/**
 * The source formats, once: the type and the config's enum derive from it, readSource switches over
 * it, and the tests (test/blocklist/formats.test.ts, test/nix/module-schema.test.ts for the NixOS
 * module's enum) hold everything else to it.
 */
export const SOURCE_FORMATS = ['json', 'lines', 'csv'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];
export const SOURCE_CONTAINS = ['ips', 'domains'] as const;
export type SourceContains = (typeof SOURCE_CONTAINS)[number];
