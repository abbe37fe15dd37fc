import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress, parseAddress } from '../../../src/lib/ip-prefix/address.js';
import { parseEntry } from '../../../src/lib/ip-prefix/entry.js';

/** Render a parse result as text so the table reads like the data. */
function show(text: string): string {
  const e = parseEntry(text);
  if (e.kind === 'rejected') return `error:${e.reason}`;
  const a = formatAddress(e.family, e.first, 0);
  const b = formatAddress(e.family, e.last, 0);
  return `${e.family} ${a}-${b}${e.normalised ? ' (normalised)' : ''}`;
}

test('parseEntry: addresses, CIDRs, ranges, and why the rest is refused', () => {
  const cases: [string, string][] = [
    ['192.0.2.1', 'ipv4 192.0.2.1-192.0.2.1'],
    ['  192.0.2.1 ', 'ipv4 192.0.2.1-192.0.2.1'],
    ['192.0.2.0/24', 'ipv4 192.0.2.0-192.0.2.255'],
    ['192.0.2.77/24', 'ipv4 192.0.2.0-192.0.2.255 (normalised)'],
    ['1.2.3.4/32', 'ipv4 1.2.3.4-1.2.3.4'],
    ['0.0.0.0/0', 'ipv4 0.0.0.0-255.255.255.255'],
    ['192.0.2.10-192.0.2.20', 'ipv4 192.0.2.10-192.0.2.20'],
    ['192.0.2.10 - 192.0.2.20', 'ipv4 192.0.2.10-192.0.2.20'],
    ['255.255.255.255', 'ipv4 255.255.255.255-255.255.255.255'],
    ['2001:db8::1', 'ipv6 2001:db8::1-2001:db8::1'],
    ['2001:DB8::/32', 'ipv6 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['2001:db8::1/64', 'ipv6 2001:db8::-2001:db8::ffff:ffff:ffff:ffff (normalised)'],
    ['::', 'ipv6 ::-::'],
    ['::ffff:192.0.2.1', 'ipv6 ::ffff:c000:201-::ffff:c000:201'],
    ['1:2:3:4:5:6:7:8', 'ipv6 1:2:3:4:5:6:7:8-1:2:3:4:5:6:7:8'],
    ['2001:db8::1-2001:db8::ff', 'ipv6 2001:db8::1-2001:db8::ff'],
    ['2001:db8:0:0:1:0:0:1', 'ipv6 2001:db8::1:0:0:1-2001:db8::1:0:0:1'],
    ['example.com', 'error:not-an-address'],
    ['', 'error:not-an-address'],
    ['1.2.3', 'error:not-an-address'],
    ['1.2.3.256', 'error:not-an-address'],
    ['010.1.1.1', 'error:not-an-address'],
    ['1.2.3.4.5', 'error:not-an-address'],
    ['1.2.3.4/33', 'error:bad-prefix-length'],
    ['1.2.3.4/', 'error:bad-prefix-length'],
    ['1.2.3.4/x', 'error:bad-prefix-length'],
    ['2001:db8::/129', 'error:bad-prefix-length'],
    ['1.2.3.9-1.2.3.4', 'error:bad-range'],
    ['1.2.3.4-2001:db8::1', 'error:bad-range'],
    ['1:2:3:4:5:6:7:8:9', 'error:not-an-address'],
    ['1::2::3', 'error:not-an-address'],
    ['12345::', 'error:not-an-address'],
    ['fe80::1%eth0', 'error:not-an-address'],
    ['1:2:3:4:5:6:7:', 'error:not-an-address'],
    [':1::', 'error:not-an-address'],
  ];
  for (const [input, want] of cases) assert.equal(show(input), want, input);
});

test('formatAddress is RFC 5952 and round-trips', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'], // a single zero group is not compressed
    ['::1', '::1'],
    ['1::', '1::'],
    ['0.0.0.0', '0.0.0.0'],
  ];
  for (const [input, want] of cases) {
    const a = parseAddress(input);
    assert.ok(a, input);
    const text = formatAddress(a.family, a.words, 0);
    assert.equal(text, want, input);
    assert.deepEqual(parseAddress(text)?.words, a.words);
  }
});
