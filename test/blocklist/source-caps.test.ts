import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSource, SOURCE_FORMATS, type SourceContains, type SourceFormat } from '../../src/blocklist/formats/index.js';
import { parseSource, type EntryBudget } from '../../src/blocklist/source-parse.js';
import { EntryGuard, mapIPv4Mapped } from '../../src/lib/ip-prefix/bogons.js';
import { parseEntryInto } from '../../src/lib/ip-prefix/entry.js';
import { rangeTexts } from '../../src/lib/ip-prefix/nft-element.js';

const guard = new EntryGuard();

test('IPv4-mapped entries (RFC 4291 §2.5.5.2) go to the IPv4 set and through the IPv4 bogon list', () => {
  const body = JSON.stringify(['::ffff:31.3.3.3', '::FFFF:1f03:304', '::ffff:31.4.0.0/112', '::ffff:10.0.0.1', '::ffff:203.0.113.9', '::ffff:0:0/96', '2a0a:db8::1']);
  const r = parseSource(Buffer.from(body), { format: 'json', contains: 'ips' }, guard);
  assert.ok(r.kind === 'parsed', JSON.stringify(r));
  assert.deepEqual(rangeTexts(r.ipv4), ['31.3.3.3-31.3.3.4', '31.4.0.0/16']);
  assert.deepEqual(rangeTexts(r.ipv6), ['2a0a:db8::1'], 'nothing of ::ffff:0:0/96 in the IPv6 set');
  // 10.0.0.1 and 203.0.113.9 are IPv4 bogons; ::ffff:0:0/96 is all of IPv4 (too broad once mapped).
  assert.deepEqual(r.rejected, { bogon: 2, 'too-broad': 1 });

  const scratch = new Uint32Array(8);
  for (const [text, mapped] of [
    ['::ffff:1.2.3.4', true],
    ['::fffe:1.2.3.4', false],
    ['::ffff:0:0-::1:0:0:0', false],
    ['64:ff9b::1.2.3.4', false],
  ] as const) {
    assert.equal(parseEntryInto(text, scratch), 'ipv6', text);
    assert.equal(mapIPv4Mapped(scratch), mapped, text);
  }
});

function budget(addresses: number, domains: number): EntryBudget {
  return { addresses, domains, describe: (what, seen) => `${what}:${seen}` };
}

test('the entry cap stops parsing at the cap, in every format, and says what ran over', () => {
  const n = 200_000;
  const ips = Array.from({ length: n }, (_, i) => `31.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const cases: [string, Buffer, SourceFormat, SourceContains][] = [
    ['json', Buffer.from(JSON.stringify(ips)), 'json', 'ips'],
    ['json (general parser)', Buffer.from(JSON.stringify([1, ...ips])), 'json', 'ips'],
    ['lines', Buffer.from(ips.join('\n')), 'lines', 'ips'],
    ['csv', Buffer.from(`Updated: 2026\n${ips.map((ip) => `${ip};x.example;;;;`).join('\n')}`), 'csv', 'ips'],
    ['csv domains', Buffer.from(`Updated: 2026\n${ips.map((_, i) => `;d${i}.example;;;;`).join('\n')}`), 'csv', 'domains'],
    ['json dpi domains', Buffer.from(JSON.stringify([{ domains: ips.map((_, i) => `d${i}.example`) }])), 'json', 'domains'],
  ];
  for (const [name, body, format, contains] of cases) {
    const r = parseSource(body, { format, contains }, guard, budget(1000, 1000));
    assert.ok(r.kind === 'over-cap', `${name}: refused`);
    assert.equal(r.error, `${contains === 'ips' ? 'addresses' : 'domains'}:1001`, name);
    // Under the cap nothing changes.
    const whole = parseSource(body, { format, contains }, guard, budget(n, n));
    assert.ok(whole.kind === 'parsed', `${name}: at the cap it parses`);
  }
  // Rejected entries and duplicate domains do not count against the cap.
  const mixed = Buffer.from(JSON.stringify(['10.0.0.1', '10.0.0.2', '31.0.0.1', 'a.example', 'a.example', 'b.example']));
  const r = parseSource(mixed, { format: 'json', contains: 'domains' }, guard, budget(1, 2));
  assert.ok(r.kind === 'parsed', JSON.stringify(r));
});

test('a full sink stops every reader at once (no entry is read past the cap)', () => {
  const ips = Array.from({ length: 1000 }, (_, i) => `31.0.${i >> 8}.${i & 255}`);
  const bodies: [string, Buffer, SourceFormat, SourceContains][] = [
    ['json', Buffer.from(JSON.stringify(ips)), 'json', 'ips'],
    ['json escaped', Buffer.from(JSON.stringify(ips).replaceAll('.', '\\u002e')), 'json', 'ips'],
    ['json general', Buffer.from(JSON.stringify([1, ...ips])), 'json', 'ips'],
    ['json dpi', Buffer.from(JSON.stringify([{ domains: ips }, { domains: ips }])), 'json', 'domains'],
    ['lines', Buffer.from(ips.join('\n')), 'lines', 'ips'],
    ['csv ips', Buffer.from(`Updated: 2026\n${ips.map((ip) => `${ip} | ${ip};x.example;;;;`).join('\n')}`), 'csv', 'ips'],
    ['csv domains', Buffer.from(`Updated: 2026\n${ips.map((ip) => `;${ip};;;;`).join('\n')}`), 'csv', 'domains'],
  ];
  for (const [name, body, format, contains] of bodies) {
    let calls = 0;
    const r = readSource(format, contains, body, { entry: () => ++calls < 10, reject: () => undefined, reset: () => (calls = 0) });
    assert.equal(calls, 10, name);
    assert.equal(r.kind, 'read', name);
  }
  assert.deepEqual([...new Set(bodies.map((b) => b[2]))].sort(), [...SOURCE_FORMATS].sort(), 'every format is covered');
});
