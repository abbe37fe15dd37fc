import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SourceContains, SourceFormat } from '../../src/blocklist/formats/index.js';
import { parseSource, type ParsedSource, type SourceParse } from '../../src/blocklist/source-parse.js';
import { normaliseDomain } from '../../src/lib/domain-match/index.js';
import { EntryGuard } from '../../src/lib/ip-prefix/bogons.js';
import { rangeTexts } from '../../src/lib/ip-prefix/nft-element.js';

const guard = new EntryGuard({ exclude: ['31.51.100.7'] });
type Src = { format: SourceFormat; contains: SourceContains };

function parse(body: string | Buffer, src: Src): SourceParse {
  return parseSource(typeof body === 'string' ? Buffer.from(body) : body, src, guard);
}
function ok(body: string | Buffer, src: Src): ParsedSource {
  const r = parse(body, src);
  assert.ok(r.kind === 'parsed', `parse failed: ${r.kind !== 'parsed' ? r.error : ''}`);
  return r;
}

/** windows-1251 for the test fixture: ASCII as is, Cyrillic А..я at 0xC0.., Ё/ё at 0xA8/0xB8. */
function cp1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((ch) => {
      const c = ch.codePointAt(0) ?? 0;
      if (c < 0x80) return c;
      if (c >= 0x410 && c <= 0x44f) return c - 0x410 + 0xc0;
      if (c === 0x401) return 0xa8;
      if (c === 0x451) return 0xb8;
      throw new Error(`no cp1251 byte for ${ch}`);
    }),
  );
}

test('json: registry ips array; garbage, bogons, too-broad and excluded counted with samples', () => {
  const body = JSON.stringify(['31.0.2.1', '31.0.2.2', '31.51.100.0/24', 'not an ip', '10.0.0.1', '0.0.0.0/0', '31.51.100.7', '2a0a:db8::/32', 'fe80::1', 'example.com', '1.2.3.4/99']);
  const r = ok(body, { format: 'json', contains: 'ips' });
  assert.deepEqual(rangeTexts(r.ipv4), ['31.0.2.1-31.0.2.2', '31.51.100.0-31.51.100.6', '31.51.100.8-31.51.100.255']);
  assert.deepEqual(rangeTexts(r.ipv6), ['2a0a:db8::/32']);
  assert.equal(r.fetched, 11);
  assert.equal(r.parsed, 4);
  assert.deepEqual(r.rejected, { 'not-an-address': 2, bogon: 2, 'too-broad': 1, excluded: 1, 'bad-prefix-length': 1 });
  assert.equal(r.samples['not-an-address'], 'not an ip');
  assert.deepEqual(r.domains, []);
});

test('json: dpi shape (objects with domains), escapes, IPs inside a domains source', () => {
  const dpi = JSON.stringify([{ domains: ['Example.COM', '*.blocked.example', 'пример.рф', '31.0.113.9'], name: 'x' }, { domains: ['bad..name', 42] }, 'direct.example.', 7]);
  const r = ok(dpi, { format: 'json', contains: 'domains' });
  assert.deepEqual(r.domains, ['blocked.example', 'direct.example', 'example.com', 'xn--e1afmkfd.xn--p1ai']);
  assert.deepEqual(rangeTexts(r.ipv4), ['31.0.113.9']);
  assert.deepEqual(r.rejected, { 'invalid-domain': 1, 'not-a-string': 2 });
  // Escaped strings in the fast path.
  const esc = ok('[ "31.0.2.1" , "\\u0033\\u0031.0.2.3" ]\n', { format: 'json', contains: 'ips' });
  assert.deepEqual(rangeTexts(esc.ipv4), ['31.0.2.1', '31.0.2.3']);
  assert.equal(ok('[]', { format: 'json', contains: 'ips' }).fetched, 0);
  assert.equal(ok('\ufeff["31.0.2.1"]', { format: 'json', contains: 'ips' }).parsed, 1);
});

test('json: a truncated or wrong document fails as a whole, never as a shorter list', () => {
  const cases = ['["31.0.2.1", "31.0.2.2", "192.0', '["31.0.2.1", "31.0.2.2",', '["31.0.2.1" "x"]', '{"error":"rate limited"}', '<html>503</html>', '', '["a"] trailing', '[1, 2'];
  for (const body of cases) {
    const r = parse(body, { format: 'json', contains: 'ips' });
    assert.equal(r.kind, 'parse-failed', `should fail: ${JSON.stringify(body)}`);
  }
});

test('lines: comments, blank lines, CRLF, ranges', () => {
  const body = '# antifilter-style\r\n31.0.2.0/24\r\n\r\n  31.0.113.1-31.0.113.3  # inline\r\n2a0a:db8::1\nnonsense\n';
  const r = ok(body, { format: 'lines', contains: 'ips' });
  assert.deepEqual(rangeTexts(r.ipv4), ['31.0.2.0/24', '31.0.113.1-31.0.113.3']);
  assert.deepEqual(rangeTexts(r.ipv6), ['2a0a:db8::1']);
  assert.deepEqual([r.fetched, r.parsed, r.rejected], [4, 3, { 'not-an-address': 1 }]);
});

test('csv: z-i dump in windows-1251, IPs | separated in column 1, domains in column 2', () => {
  const dump = cp1251(
    [
      'Updated: 2025-07-01 12:00:00 +0000',
      '31.0.2.1 | 31.0.2.2;example.com;http://example.com/;Роскомнадзор;27-31-2018/Ид2971-18;2018-04-16',
      '31.51.100.0/24;;;Генпрокуратура;1;2019-01-01',
      '2a0a:db8::5;пример.рф;;Суд;2;2020-01-01',
      '10.0.0.1;*.ёлка.рф;;ФНС;3;2021-01-01',
      '',
    ].join('\n'),
  );
  const ips = ok(dump, { format: 'csv', contains: 'ips' });
  assert.deepEqual(rangeTexts(ips.ipv4), ['31.0.2.1-31.0.2.2', '31.51.100.0-31.51.100.6', '31.51.100.8-31.51.100.255']);
  assert.deepEqual(rangeTexts(ips.ipv6), ['2a0a:db8::5']);
  assert.deepEqual(ips.rejected, { bogon: 1 });
  const domains = ok(dump, { format: 'csv', contains: 'domains' });
  // ёлка.рф, пример.рф
  assert.deepEqual(domains.domains, ['example.com', 'xn--80atc1g.xn--p1ai', 'xn--e1afmkfd.xn--p1ai']);
  const notDump = parse('<html>captive portal</html>', { format: 'csv', contains: 'ips' });
  assert.ok(notDump.kind === 'parse-failed' && /not a z-i dump/.test(notDump.error), 'refused');
});

test('normaliseDomain', () => {
  const cases: [string, string][] = [
    ['Example.COM.', 'example.com'],
    ['*.example.com', 'example.com'],
    ['пример.рф', 'xn--e1afmkfd.xn--p1ai'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['com', 'error:too-broad'],
    ['a..b', 'error:invalid-domain'],
    ['-bad.example', 'error:invalid-domain'],
    ['with space.example', 'error:invalid-domain'],
    [`${'a'.repeat(64)}.example`, 'error:invalid-domain'],
  ];
  for (const [input, want] of cases) {
    const r = normaliseDomain(input);
    assert.equal(r.kind === 'name' ? r.name : `error:${r.kind}`, want, input);
  }
});
