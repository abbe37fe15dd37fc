import type { EntrySink, FormatResult, SourceContains } from './types.js';

/**
 * `json` sources: the registry API v3 `ips`/`domains` endpoints (an array of strings) and its `dpi`
 * endpoint (an array of objects whose `domains` arrays are taken). The common case — a flat array
 * of plain strings — is scanned without JSON.parse, so a 1M-entry list never exists as 1M live
 * strings at once; anything else (objects, escapes-heavy data) falls back to JSON.parse.
 */
export function readJson(text: string, contains: SourceContains, sink: EntrySink): FormatResult {
  const fast = scanStringArray(text, sink);
  if (fast !== 'not-plain') return fast;
  sink.reset();
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (err) {
    return { kind: 'failed', error: `invalid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(doc)) return { kind: 'failed', error: `expected a JSON array, got ${doc === null ? 'null' : typeof doc}` };
  for (const item of doc as unknown[]) {
    if (typeof item === 'string') {
      if (!sink.entry(item)) break;
    } else if (contains === 'domains' && typeof item === 'object' && item !== null && Array.isArray((item as { domains?: unknown }).domains)) {
      for (const d of (item as { domains: unknown[] }).domains) {
        if (typeof d === 'string') {
          if (!sink.entry(d)) return { kind: 'read' };
        } else sink.reject('not-a-string', JSON.stringify(d) ?? String(d));
      }
    } else {
      sink.reject('not-a-string', (JSON.stringify(item) ?? String(item)).slice(0, 100));
    }
  }
  return { kind: 'read' };
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * `[ "a", "b" ]` with strict JSON grammar: a truncated or malformed document is an error, never a
 * shorter list. Returns 'not-plain' at the first element that is not a string.
 */
function scanStringArray(text: string, sink: EntrySink): FormatResult | 'not-plain' {
  const n = text.length;
  let i = 0;
  const skip = () => {
    while (i < n && isWs(text.charCodeAt(i))) i++;
  };
  const bad = (what: string): FormatResult => ({ kind: 'failed', error: `invalid JSON: ${what} at position ${i}${i >= n ? ' (document truncated?)' : ''}` });
  skip();
  if (text.charCodeAt(i) !== 91) return 'not-plain';
  i++;
  skip();
  if (text.charCodeAt(i) === 93) {
    i++;
  } else {
    for (;;) {
      skip();
      if (i >= n) return bad('unexpected end');
      if (text.charCodeAt(i) !== 34) return 'not-plain';
      const start = ++i;
      let escaped = false;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 34) break;
        if (c < 32) return bad('control character in string');
        if (c === 92) {
          escaped = true;
          i++;
        }
      }
      if (i >= n) return bad('unterminated string');
      let more: boolean;
      if (!escaped) {
        more = sink.entry(text.slice(start, i));
      } else {
        try {
          more = sink.entry(JSON.parse(text.slice(start - 1, i + 1)) as string);
        } catch {
          return bad('bad escape in string');
        }
      }
      if (!more) return { kind: 'read' };
      i++;
      skip();
      const c = text.charCodeAt(i);
      if (c === 44) {
        i++;
        continue;
      }
      if (c === 93) {
        i++;
        break;
      }
      return bad(i >= n ? 'unexpected end' : `expected "," or "]"`);
    }
  }
  skip();
  return i === n ? { kind: 'read' } : bad('trailing data');
}
