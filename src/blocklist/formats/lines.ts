import type { EntrySink, FormatResult } from './types.js';

/**
 * `lines` sources (antifilter-style `.lst`): one entry per line; `#` starts a comment (whole line or
 * trailing); blank lines and CRLF are fine. There is no document structure to be truncated, which is
 * why the ratio guard matters most for this format.
 */
export function readLines(text: string, sink: EntrySink): FormatResult {
  let start = 0;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let line = text.slice(start, end);
    start = end + 1;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line !== '' && !sink.entry(line)) break;
  }
  return { kind: 'read' };
}
