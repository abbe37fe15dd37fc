import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listConfigSchema, parseDuration } from '../../src/blocklist/index.js';
import { repoRoot } from '../helpers/repo-root.js';

test('parseDuration', () => {
  const cases: [string, number | undefined][] = [
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['500ms', 500],
    ['1 h', undefined],
    ['h', undefined],
    ['', undefined],
    ['-1h', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('list schema: defaults, and errors that name the field', () => {
  const ok = listConfigSchema.parse({ name: 'vpn', sources: [{ url: 'https://reestr.rublacklist.net/api/v3/ips/', format: 'json', contains: 'ips' }] });
  assert.deepEqual([ok.refresh, ok.minRatio, ok.minPrefix, ok.exclude], [3_600_000, 0.5, { ipv4: 8, ipv6: 16 }, []]);
  const bad: [unknown, RegExp][] = [
    [{ name: 'VPN', sources: [{ url: 'https://x/', format: 'json', contains: 'ips' }] }, /^name: /],
    [{ name: 'v', refresh: '30s', sources: [{ url: 'https://x/', format: 'json', contains: 'ips' }] }, /^refresh: refresh must be at least 1m/],
    [{ name: 'v', refresh: 'hourly', sources: [{ url: 'https://x/', format: 'json', contains: 'ips' }] }, /^refresh: expected a duration/],
    [{ name: 'v', sources: [] }, /^sources: /],
    [{ name: 'v', sources: [{ url: 'ftp://x/', format: 'json', contains: 'ips' }] }, /^sources\.0\.url: expected an http\(s\) URL/],
    [{ name: 'v', sources: [{ url: 'https://x/', format: 'xml', contains: 'ips' }] }, /^sources\.0\.format: /],
    [
      {
        name: 'v',
        sources: [
          { url: 'https://x/', format: 'json', contains: 'ips' },
          { url: 'https://x/', format: 'json', contains: 'domains' },
        ],
      },
      /^sources: a URL appears twice/,
    ],
    [{ name: 'v', sources: [{ url: 'https://x/', format: 'json', contains: 'ips' }], exclude: ['vpn.example.com'] }, /^exclude\.0: expected an IP address/],
    [{ name: 'v', sources: [{ url: 'https://x/', format: 'json', contains: 'ips' }], minPrefix: { ipv4: 33 } }, /^minPrefix\.ipv4: /],
    [{ name: 'v', sources: [{ url: 'https://x/', format: 'json', contains: 'ips', retries: 3 }] }, /^sources\.0: Unrecognized key/],
  ];
  for (const [value, re] of bad) {
    const r = listConfigSchema.safeParse(value);
    assert.ok(!r.success, JSON.stringify(value));
    const msg = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    assert.match(msg, re, JSON.stringify(value));
  }
});

test("README examples: every ```json block with `lists` is valid (nft blocks are set-sync's)", () => {
  const text = readFileSync(join(repoRoot(), 'src/blocklist/README.md'), 'utf8');
  const docs = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? '') as { lists?: unknown[] });
  const withLists = docs.filter((d) => Array.isArray(d.lists));
  assert.ok(withLists.length >= 2, 'examples found');
  const urls: string[] = [];
  for (const d of withLists) {
    for (const list of d.lists ?? []) {
      const { nft: _nft, ...mine } = list as Record<string, unknown>;
      const parsed = listConfigSchema.parse(mine);
      urls.push(...parsed.sources.map((s) => s.url));
    }
  }
  for (const u of ['https://reestr.rublacklist.net/api/v3/ips/', 'https://reestr.rublacklist.net/api/v3/domains/', 'https://blockedin.org/api/v3/ips/']) assert.ok(urls.includes(u), u);
});
