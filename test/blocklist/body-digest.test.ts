import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { PARSE_REVISION } from '../../src/blocklist/body-digest.js';
import { parseSource } from '../../src/blocklist/source-parse.js';
import { EntryGuard, rangeTexts } from '../../src/lib/ip-prefix/index.js';

/**
 * What a body yields, for each PARSE_REVISION. A body seen before is not parsed again
 * (body-digest.ts), so a change to the readers, the entry parser or the guard that changes this
 * output must bump PARSE_REVISION — else snapshots keep data parsed by the old rules. Add the new
 * revision's digest here when you bump it.
 */
const YIELDS: Readonly<Record<number, string>> = {
  1: '21389ce05e781e780fc6f6d8c29e65e921cc1468739ea4a9490140a7da021a7b',
};

const SAMPLES: { format: 'lines' | 'json' | 'csv'; contains: 'ips' | 'domains'; body: string }[] = [
  { format: 'lines', contains: 'ips', body: '1.2.3.4\n5.6.0.0/16\n10.0.0.1\n2a00:1450::/32\n::ffff:31.0.0.1\n5.7.0.0-5.7.1.255\n  9.9.9.9  \nfe80::1\njunk\n1.2.3.0/8\n' },
  { format: 'json', contains: 'ips', body: JSON.stringify(['31.13.0.0/16', '2a03:2880::/32', 'x', '0.0.0.0/0']) },
  { format: 'json', contains: 'domains', body: JSON.stringify([{ domains: ['Blocked.example', '*.wild.example', 'пример.рф', '31.0.113.5', 'bad domain'] }]) },
  { format: 'csv', contains: 'ips', body: '1.2.3.4;5.6.7.0/24;blocked.example;x\n' },
];

function yieldDigest(): string {
  const h = createHash('sha256');
  const guard = new EntryGuard({ minPrefix: { ipv4: 8, ipv6: 19 }, exclude: ['5.6.7.0/24'] });
  for (const s of SAMPLES) {
    const r = parseSource(Buffer.from(s.body), s, guard);
    h.update(JSON.stringify('error' in r ? { error: r.error } : { v4: [...rangeTexts(r.ipv4)], v6: [...rangeTexts(r.ipv6)], domains: r.domains, parsed: r.parsed, rejected: r.rejected }));
  }
  return h.digest('hex');
}

test(`parsing yields what PARSE_REVISION ${PARSE_REVISION} recorded (bump it when parsing changes)`, () => {
  const got = yieldDigest();
  const known = YIELDS[PARSE_REVISION];
  assert.equal(
    known,
    got,
    known === undefined ? `add ${PARSE_REVISION}: '${got}' to YIELDS` : `parse output changed: bump PARSE_REVISION in src/blocklist/body-digest.ts and add ${PARSE_REVISION + 1}: '${got}' to YIELDS`,
  );
});
