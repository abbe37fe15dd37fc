import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EntryGuard,
  RangeSetBuilder,
  containsAddress,
  coveredAddressCount,
  diffRangeSets,
  parseEntryInto,
  rangeSetOf,
  rangeSetsEqual,
  rangeTexts,
  rangeToNftElement,
  subtractRanges,
  type IpFamily,
} from '../../../src/lib/ip-prefix/index.js';

const fam = (e: string): IpFamily => (e.includes(':') ? 'ipv6' : 'ipv4');
const build = (entries: string[], family = fam(entries[0] ?? '0.0.0.0')) => rangeSetOf(family, entries);

test('build: sorts, merges overlapping and adjacent ranges, keeps gaps', () => {
  const cases: [string[], string[]][] = [
    [['10.0.0.3', '10.0.0.1', '10.0.0.2'], ['10.0.0.1-10.0.0.3']],
    [['1.0.0.0/25', '1.0.0.128/25'], ['1.0.0.0/24']],
    [['1.0.0.0/24', '1.0.0.7', '1.0.0.0/26'], ['1.0.0.0/24']],
    [
      ['1.0.0.0/24', '1.0.2.0/24'],
      ['1.0.0.0/24', '1.0.2.0/24'],
    ],
    [['1.0.0.5-1.0.0.9', '1.0.0.8-1.0.0.20', '1.0.0.21'], ['1.0.0.5-1.0.0.21']],
    [['255.255.255.255', '255.255.255.254'], ['255.255.255.254/31']],
    [['0.0.0.0', '0.0.0.1'], ['0.0.0.0/31']],
    [['2001:db8::/33', '2001:db8:8000::/33'], ['2001:db8::/32']],
    [
      ['2001:db8::1', '2001:db8::3'],
      ['2001:db8::1', '2001:db8::3'],
    ],
    [['2001:db8::ffff:ffff', '2001:db8::1:0:0'], ['2001:db8::ffff:ffff-2001:db8::1:0:0']],
    [
      ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::'],
      ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ],
  ];
  for (const [input, want] of cases) assert.deepEqual(rangeTexts(build(input)), want, input.join(' '));
  assert.equal(new RangeSetBuilder('ipv4').build().size, 0);
});

test('nft element shapes: single address string, aligned prefix, otherwise range', () => {
  const s = build(['192.0.2.1', '198.51.100.0/24', '203.0.113.5-203.0.113.9', '203.0.113.64/26']);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => rangeToNftElement(s, i)),
    ['192.0.2.1', { prefix: { addr: '198.51.100.0', len: 24 } }, { range: ['203.0.113.5', '203.0.113.9'] }, { prefix: { addr: '203.0.113.64', len: 26 } }],
  );
  const v6 = build(['2001:db8::/48', '2001:db9::1', '2001:dba::2-2001:dba::3', '2001:dba::4-2001:dba::7']);
  assert.deepEqual(
    [0, 1, 2].map((i) => rangeToNftElement(v6, i)),
    [{ prefix: { addr: '2001:db8::', len: 48 } }, '2001:db9::1', { range: ['2001:dba::2', '2001:dba::7'] }],
  );
  assert.deepEqual(rangeToNftElement(build(['0.0.0.0/0']), 0), { prefix: { addr: '0.0.0.0', len: 0 } });
  assert.throws(() => rangeToNftElement(s, 4), RangeError);
});

test('subtractRanges cuts around excluded ranges instead of dropping whole prefixes', () => {
  const cases: [string[], string[], string[]][] = [
    [['198.51.100.0/24'], ['198.51.100.7'], ['198.51.100.0-198.51.100.6', '198.51.100.8-198.51.100.255']],
    [['10.0.0.0/7'], ['10.0.0.0/8'], ['11.0.0.0/8']],
    [['1.0.0.0/24', '1.0.2.0/24'], ['1.0.0.128-1.0.2.127'], ['1.0.0.0/25', '1.0.2.128/25']],
    [['1.0.0.0/24'], ['1.0.0.0/24'], []],
    [['1.0.0.0/24'], ['0.0.0.0/0'], []],
    [['1.0.0.0/24'], ['2.0.0.0/8'], ['1.0.0.0/24']],
    [['0.0.0.0-255.255.255.255'], ['255.255.255.255', '0.0.0.0'], ['0.0.0.1-255.255.255.254']],
    [
      ['1.0.0.0-1.0.0.10', '1.0.0.20-1.0.0.30'],
      ['1.0.0.5', '1.0.0.25'],
      ['1.0.0.0-1.0.0.4', '1.0.0.6-1.0.0.10', '1.0.0.20-1.0.0.24', '1.0.0.26-1.0.0.30'],
    ],
    [['2001:db8::/32'], ['2001:db8::/33'], ['2001:db8:8000::/33']],
  ];
  for (const [set, ex, want] of cases) {
    const s = build(set);
    assert.deepEqual(rangeTexts(subtractRanges(s, rangeSetOf(s.family, ex))), want, `${set.join(' ')} - ${ex.join(' ')}`);
  }
});

test('diffRangeSets names exactly the elements to delete and add', () => {
  const cases: [string[], string[], string[], string[]][] = [
    [['1.0.0.0/24', '2.0.0.0/24'], ['1.0.0.0/24', '2.0.0.0/24'], [], []],
    [['1.0.0.0/24'], ['1.0.0.0/24', '3.0.0.1'], [], ['3.0.0.1']],
    [['1.0.0.0/24', '3.0.0.1'], ['1.0.0.0/24'], ['3.0.0.1'], []],
    // Grew: the stored /24 must be deleted as stored, the /23 added.
    [['1.0.0.0/24'], ['1.0.0.0/23'], ['1.0.0.0/24'], ['1.0.0.0/23']],
    // Same last, different first.
    [['1.0.0.0/24'], ['1.0.0.128/25'], ['1.0.0.0/24'], ['1.0.0.128/25']],
    [[], ['1.0.0.1'], [], ['1.0.0.1']],
    [['2001:db8::/48'], ['2001:db8::/47'], ['2001:db8::/48'], ['2001:db8::/47']],
  ];
  for (const [a, d, removed, added] of cases) {
    const family = fam(a[0] ?? d[0] ?? '');
    const r = diffRangeSets(rangeSetOf(family, a), rangeSetOf(family, d));
    assert.deepEqual([rangeTexts(r.removed), rangeTexts(r.added)], [removed, added], `${a.join(' ')} -> ${d.join(' ')}`);
  }
  assert.throws(() => diffRangeSets(build(['1.1.1.1']), build(['::1'])), TypeError);
});

test('guard: too broad rejected whole, bogons and excludes rejected or cut', () => {
  const guard = new EntryGuard({ exclude: ['5.51.100.7/32', '2a0a:db8:dead::/48'] });
  const scratch = new Uint32Array(8);
  const cases: [string, string | undefined][] = [
    ['0.0.0.0/0', 'too-broad'],
    ['1.0.0.0/7', 'too-broad'],
    ['1.0.0.0-3.0.0.0', 'too-broad'],
    ['1.0.0.0/8', undefined],
    ['1.0.0.0-1.255.255.255', undefined],
    ['::/0', 'too-broad'],
    ['2000::/15', 'too-broad'],
    ['2001::/16', undefined],
    ['10.1.2.3', 'bogon'],
    ['192.168.0.0/16', 'bogon'],
    ['100.64.0.1', 'bogon'],
    ['100.128.0.1', undefined],
    ['172.31.255.255', 'bogon'],
    ['172.32.0.0', undefined],
    ['224.0.0.1', 'bogon'],
    ['255.255.255.255', 'bogon'],
    ['127.0.0.1', 'bogon'],
    ['169.254.1.1', 'bogon'],
    ['0.1.2.3', 'bogon'],
    ['::', 'bogon'],
    ['::1', 'bogon'],
    ['::2', 'bogon'], // IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
    ['::ffff:10.0.0.1', 'bogon'], // IPv4-mapped left in the v6 path (the list parser maps them to IPv4 first)
    ['::ffff:1.2.3.4', 'bogon'],
    // Documentation, benchmarking and other not-globally-reachable special-purpose space (RFC 6890).
    ['192.0.2.1', 'bogon'],
    ['198.51.100.0/24', 'bogon'],
    ['203.0.113.77', 'bogon'],
    ['198.18.0.0/15', 'bogon'],
    ['198.19.255.255', 'bogon'],
    ['198.20.0.0', undefined],
    ['192.0.0.8', 'bogon'],
    ['192.88.99.1', 'bogon'],
    ['192.31.196.1', undefined], // AS112: special-purpose but globally reachable
    ['2001:db8::1', 'bogon'],
    ['2001:db8::/32', 'bogon'],
    ['2001:db9::1', undefined],
    ['2002:1f03:303::1', 'bogon'],
    ['2002::/16', 'bogon'],
    ['2001:2::1', 'bogon'],
    ['3fff:1::1', 'bogon'],
    ['100::1', 'bogon'],
    ['64:ff9b::1.2.3.4', undefined], // NAT64 well-known prefix: globally reachable (RFC 6052)
    ['64:ff9b:1::1', 'bogon'],
    ['fec0::1', 'bogon'],
    ['5f00::1', 'bogon'],
    ['fd00::1', 'bogon'],
    ['fe80::1', 'bogon'],
    ['ff02::1', 'bogon'],
    ['5.51.100.7', 'excluded'],
    ['5.51.100.0/24', undefined],
    ['2a0a:db8:dead:1::/64', 'excluded'],
  ];
  const strict = new EntryGuard({ exclude: ['5.51.100.7/32'], minPrefix: { ipv4: 32, ipv6: 128 } });
  for (const [entry, want] of cases) {
    const family = parseEntryInto(entry, scratch);
    assert.ok(family === 'ipv4' || family === 'ipv6', `${entry} parses`);
    assert.equal(guard.check(family, scratch), want, entry);
    // One address: checkAddress says what check says of the entry first = last, even at the longest minPrefix.
    if (entry.includes('/') || entry.includes('-')) continue;
    const w = family === 'ipv4' ? 1 : 4;
    const single = new Uint32Array(2 * w);
    single.set(scratch.subarray(0, w), 0);
    single.set(scratch.subarray(0, w), w);
    for (const g of [guard, strict]) assert.equal(g.checkAddress(family, scratch.subarray(0, w)), g.check(family, single), `${entry} as one address`);
  }
  // Partial overlaps are cut, the rest of the entry stays.
  const v4 = rangeSetOf('ipv4', ['9.255.255.0-10.0.0.255', '5.51.100.0/24', '172.15.0.0-172.16.0.5']);
  assert.deepEqual(rangeTexts(guard.cut(v4)), ['5.51.100.0-5.51.100.6', '5.51.100.8-5.51.100.255', '9.255.255.0/24', '172.15.0.0/16']);
  const v6 = rangeSetOf('ipv6', ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ff00-fc00::ff', '2a0a:db8:dead::/47']);
  // 2a0a:db8:dead::/47 is deac::-dead:ffff…; the excluded /48 is its upper half.
  assert.deepEqual(rangeTexts(guard.cut(v6)), ['2a0a:db8:deac::/48', 'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120']);
  for (const [addr, want] of [
    ['2a0a:db8:dead::1', false],
    ['2a0a:db8:deac::1', true],
    ['fc00::1', false],
  ] as const) {
    assert.equal(containsAddress(guard.cut(v6), addr), want, addr);
  }
});

/** Naive model: a bitmap over a small v4 window, to check merge/subtract/diff on random data. */
test('random sets agree with a bitmap model (coverage, subtract, diff round-trip)', () => {
  let seed = 42;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const base = 0x01000000; // 1.0.0.0
  const text = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  const randomEntries = (count: number) =>
    Array.from({ length: count }, () => {
      const a = base + rnd(4096);
      return `${text(a)}-${text(a + rnd(40))}`;
    });
  const bitmap = (entries: string[]) => {
    const m = new Uint8Array(5000);
    for (const e of entries) {
      const [x, y] = e.split('-').map((p) => p.split('.').reduce((v, o) => v * 256 + Number(o), 0) - base);
      for (let i = x ?? 0; i <= (y ?? 0); i++) m[i] = 1;
    }
    return m;
  };
  for (let round = 0; round < 20; round++) {
    const a = randomEntries(200);
    const ex = randomEntries(30);
    const set = rangeSetOf('ipv4', a);
    const bm = bitmap(a);
    assert.equal(coveredAddressCount(set), BigInt(bm.reduce((n: number, b) => n + b, 0)));
    const cut = subtractRanges(set, rangeSetOf('ipv4', ex));
    const bex = bitmap(ex);
    for (let i = 0; i < 5000; i += 7) assert.equal(containsAddress(cut, text(base + i)), bm[i] === 1 && bex[i] !== 1, `addr ${i}`);
    // applied - removed + added == desired, exactly.
    const desired = rangeSetOf('ipv4', [...randomEntries(190), ...a.slice(0, 100)]);
    const { removed, added } = diffRangeSets(set, desired);
    const gone = new Set(rangeTexts(removed));
    const kept = rangeTexts(set).filter((r) => !gone.has(r));
    assert.ok(rangeSetsEqual(rangeSetOf('ipv4', [...kept, ...rangeTexts(added)]), desired), 'applied - removed + added == desired');
  }
});
