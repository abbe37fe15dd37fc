import { readCsv } from './csv.js';
import { readJson } from './json.js';
import { readLines } from './lines.js';
import type { EntrySink, FormatResult, SourceContains, SourceFormat } from './types.js';

export { SOURCE_CONTAINS, SOURCE_FORMATS, type EntrySink, type FormatResult, type SourceContains, type SourceFormat } from './types.js';

/** UTF-8 text without a byte-order mark (some exporters write one; JSON.parse rejects it). */
function utf8(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Read one downloaded body in its format into the sink. Never throws on bad data. */
export function readSource(format: SourceFormat, contains: SourceContains, body: Buffer, sink: EntrySink): FormatResult {
  switch (format) {
    case 'json':
      return readJson(utf8(body), contains, sink);
    case 'lines':
      return readLines(utf8(body), sink);
    case 'csv':
      return readCsv(body, contains, sink);
    default: {
      const never: never = format;
      return { kind: 'failed', error: `unknown format ${String(never)}` };
    }
  }
}
