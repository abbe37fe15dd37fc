import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainMatcher, normaliseDomain, normaliseEntry } from '../../../src/lib/domain-match/index.js';

const text = (raw: string): string => {
  const d = normaliseDomain(raw);
  return d.kind === 'name' ? d.name : `error:${d.kind}`;
};

test('normaliseDomain: one form for list entries, runtime additions and lookups', () => {
  const table: [string, string][] = [
    ['Example.COM.', 'example.com'],
    [' *.Пример.РФ. ', 'xn--e1afmkfd.xn--p1ai'],
    ['\u00a0a.b\u3000', 'a.b'], // Unicode white space (String.prototype.trim)
    ['example\u3002com', 'example.com'], // an ideographic full stop is a dot to UTS #46
    ['_sip._tcp.example.com', '_sip._tcp.example.com'],
    ['рф', 'error:too-broad'],
    ['com.', 'error:too-broad'],
    ['', 'error:invalid-domain'],
    ['*.', 'error:invalid-domain'],
    // One `*.` and one trailing dot are dropped, not more (the learner's own copy used to drop two).
    ['a.b..', 'error:invalid-domain'],
    ['*.*.a.b', 'error:invalid-domain'],
    ['a.*.b', 'error:invalid-domain'],
    ['a-.b', 'error:invalid-domain'],
    [`${'a.'.repeat(126)}bc`, 'error:invalid-domain'], // 254 characters
    [`${'a.'.repeat(126)}b`, `${'a.'.repeat(126)}b`], // 253
  ];
  for (const [raw, want] of table) assert.equal(text(raw), want, JSON.stringify(raw));
});

test('what normaliseDomain returns the matcher stores unchanged', () => {
  for (const raw of ['Example.COM.', '*.Пример.РФ', '_dmarc.Example.org']) {
    const d = normaliseDomain(raw);
    assert.equal(d.kind, 'name');
    if (d.kind !== 'name') continue;
    assert.equal(normaliseEntry(d.name), d.name);
    assert.equal(DomainMatcher.build([d.name]).matcher.match(`www.${d.name}.`), d.name);
  }
});
