import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainMatcher, normaliseEntry } from '../../../src/lib/domain-match/index.js';

const LIST = ['example.com', '*.wild.org', 'Deep.Sub.Example.NET.', 'xn--80ak6aa92e.com', 'under_score.io', 'a.b.c.d.e.f.g'];
const { matcher } = DomainMatcher.build(LIST);

test('matching: the entry itself and everything below it, on label boundaries only', () => {
  const table: [name: string, expected: string | undefined][] = [
    ['example.com', 'example.com'],
    ['example.com.', 'example.com'],
    ['www.example.com', 'example.com'],
    ['a.b.c.example.com.', 'example.com'],
    ['EXAMPLE.COM', 'example.com'],
    ['WwW.ExAmPlE.cOm.', 'example.com'],
    ['notexample.com', undefined],
    ['example.com.evil', undefined],
    ['com', undefined],
    ['com.', undefined],
    ['xample.com', undefined],
    ['example.co', undefined],
    ['examplecom', undefined],
    // `*.wild.org` is "wild.org and below" (the apex is meant too).
    ['wild.org', 'wild.org'],
    ['x.wild.org', 'wild.org'],
    ['very.deep.x.wild.org', 'wild.org'],
    ['*.wild.org', 'wild.org'],
    ['notwild.org', undefined],
    ['org', undefined],
    // A listed subdomain covers only itself and below, never its parents or siblings.
    ['deep.sub.example.net', 'deep.sub.example.net'],
    ['x.deep.sub.example.net', 'deep.sub.example.net'],
    ['sub.example.net', undefined],
    ['example.net', undefined],
    ['other.sub.example.net', undefined],
    // IDN entries are punycode; the wire carries punycode too.
    ['xn--80ak6aa92e.com', 'xn--80ak6aa92e.com'],
    ['www.XN--80AK6AA92E.COM', 'xn--80ak6aa92e.com'],
    ['under_score.io', 'under_score.io'],
    ['a.b.c.d.e.f.g', 'a.b.c.d.e.f.g'],
    ['z.a.b.c.d.e.f.g', 'a.b.c.d.e.f.g'],
    ['b.c.d.e.f.g', undefined],
  ];
  for (const [name, expected] of table) {
    assert.equal(matcher.match(name), expected, name);
    assert.equal(matcher.matches(name), expected !== undefined, name);
  }
});

test('names that are not plain names never match and never throw', () => {
  const table = ['', '.', '..', 'example.com..', '.example.com.x', 'exa mple.com', 'bücher.example.org', '\u0000', `${'x'.repeat(300)}.example.com`];
  for (const name of table) assert.equal(matcher.match(name), undefined, JSON.stringify(name));
  // Unicode under a listed name: the walk stops at the non-ASCII label, but the suffix to its
  // right was already probed — a resolver never sends that, and punycode is what we compare.
  assert.equal(matcher.match('bücher.example.com'), 'example.com');
});

test('presentation escapes (RFC 1035 §5.1, as readName prints them) are label content, not boundaries', () => {
  const { matcher: m } = DomainMatcher.build(['b.example.com', 'example.org']);
  // "a\.b.example.com" is the labels [a.b, example, com]: b.example.com must not match.
  assert.equal(m.match('a\\.b.example.com'), undefined);
  // "x\\.example.org" is [x\, example, org]: the dot is real, so example.org covers it.
  assert.equal(m.match('x\\\\.example.org'), 'example.org');
  // "\046" is an escaped dot too.
  assert.equal(m.match('a\\046b.example.com'), undefined);
  assert.equal(m.match('q.b.example.com'), 'b.example.com');
});

test('the broadest covering entry is reported when several cover a name', () => {
  const { matcher: m } = DomainMatcher.build(['www.example.com', 'example.com', 'a.www.example.com']);
  assert.equal(m.match('a.www.example.com'), 'example.com');
  assert.equal(m.match('www.example.com'), 'example.com');
});

test('build: duplicates (incl. `*.` and case variants) and invalid entries are counted, not thrown', () => {
  const b = DomainMatcher.build(['example.com', '*.example.com', 'EXAMPLE.com.', ' example.com ', 'a..b', '', 'bücher.de', '-bad.com', `${'x'.repeat(64)}.com`, 'ok.net']);
  assert.equal(b.entries, 2);
  assert.equal(b.duplicates, 3);
  assert.equal(b.rejected, 5);
  assert.equal(b.matcher.size, 2);
  assert.equal(b.matcher.match('ok.net'), 'ok.net');
  assert.equal(DomainMatcher.empty.match('example.com'), undefined);
  assert.equal(DomainMatcher.build([]).matcher.match('example.com'), undefined);
});

test('single-label entries are the caller’s policy (blocklist rejects them as too broad); the matcher honours them', () => {
  const { matcher: m } = DomainMatcher.build(['test']);
  assert.equal(m.match('a.test'), 'test');
  assert.equal(m.match('atest'), undefined);
});

test('normaliseEntry', () => {
  const table: [string, string | undefined][] = [
    ['Example.COM.', 'example.com'],
    ['*.Example.com', 'example.com'],
    ['  a.b  ', 'a.b'],
    ['*.', undefined],
    ['*', undefined],
    ['a.*.b', undefined],
    ['a_b.c', 'a_b.c'],
    ['xn--p1ai', 'xn--p1ai'],
    ['рф', undefined],
  ];
  for (const [raw, expected] of table) assert.equal(normaliseEntry(raw), expected, raw);
});

test('many entries: every entry and a subdomain of it match, near misses do not (hash table under load)', () => {
  const entries = Array.from({ length: 50_000 }, (_, i) => `host${i}.zone${i % 97}.example`);
  const { matcher: m, entries: n } = DomainMatcher.build(entries);
  assert.equal(n, entries.length);
  for (let i = 0; i < entries.length; i += 7) {
    assert.equal(m.match(`x.host${i}.zone${i % 97}.example`), entries[i]);
    assert.equal(m.match(`host${i}x.zone${i % 97}.example`), undefined);
    assert.equal(m.match(`zone${i % 97}.example`), undefined);
  }
  assert.ok(m.byteLength < 50_000 * 40, `packed: ${m.byteLength} bytes`);
});
