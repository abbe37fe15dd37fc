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
export type FormatResult = { ok: true } | { ok: false; error: string };

export type SourceFormat = 'json' | 'lines' | 'csv';
export type SourceContains = 'ips' | 'domains';
