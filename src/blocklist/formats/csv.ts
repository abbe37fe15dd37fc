import type { EntrySink, FormatResult, SourceContains } from './types.js';

/**
 * `csv`: the z-i dump (github.com/zapret-info/z-i, dump.csv). windows-1251, first line
 * `Updated: <date>`, then `ips;domain;url;org;decision;date` with the IPs ` | `-separated in the first
 * column. `contains: ips` takes column 1, `contains: domains` column 2. A file whose first line is
 * not `Updated:` is not the dump (an HTML error page, a captive portal) and fails as a whole.
 */
const cp1251 = new TextDecoder('windows-1251');

export function readCsv(body: Buffer, contains: SourceContains, sink: EntrySink): FormatResult {
  const text = cp1251.decode(body);
  const firstEnd = text.indexOf('\n');
  const first = (firstEnd < 0 ? text : text.slice(0, firstEnd)).trim();
  if (!first.startsWith('Updated:')) return { kind: 'failed', error: `not a z-i dump: first line is ${JSON.stringify(first.slice(0, 60))}, expected "Updated: …"` };
  let start = firstEnd < 0 ? text.length : firstEnd + 1;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    const semi = line.indexOf(';');
    if (contains === 'ips') {
      const col = semi < 0 ? line : line.slice(0, semi);
      for (const ip of col.split('|')) {
        const t = ip.trim();
        if (t !== '' && !sink.entry(t)) return { kind: 'read' };
      }
    } else if (semi >= 0) {
      const next = line.indexOf(';', semi + 1);
      const domain = line.slice(semi + 1, next < 0 ? line.length : next).trim();
      if (domain !== '' && !sink.entry(domain)) return { kind: 'read' };
    }
  }
  return { kind: 'read' };
}
