import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeName } from '../../../src/lib/dns-wire/presentation.js';
import { equalFold, nameToWireLower, readName, writeName } from '../../../src/lib/dns-wire/wire-name.js';

const wire = (...labels: (string | number[])[]) => Buffer.from([...labels.flatMap((l) => (typeof l === 'string' ? [Buffer.byteLength(l), ...Buffer.from(l)] : [l.length, ...l])), 0]);

test('writeName: presentation → wire, escapes and UTF-8', () => {
  const cases: [string, Buffer][] = [
    ['.', wire()],
    ['', wire()],
    ['local.', wire('local')],
    ['local', wire('local')],
    ['PrInTeR.LoCaL.', wire('PrInTeR', 'LoCaL')],
    ['My\\032Printer._ipp._tcp.local.', wire('My Printer', '_ipp', '_tcp', 'local')],
    ['a\\.b.local.', wire('a.b', 'local')],
    ['back\\\\slash.', wire('back\\slash')],
    ['B\\195\\188ro.local.', wire([0x42, 0xc3, 0xbc, 0x72, 0x6f], 'local')],
    ['Büro.local.', wire('Büro', 'local')],
    ['emoji\u{1F5A8}.local.', wire('emoji\u{1F5A8}', 'local')],
  ];
  const buf = new Uint8Array(300);
  for (const [name, expected] of cases) {
    const end = writeName(buf, 0, name);
    assert.deepEqual(Buffer.from(buf.subarray(0, end)), expected, name);
  }
});

test('writeName rejects what cannot be a name', () => {
  const buf = new Uint8Array(600);
  for (const [name, msg] of [
    ['a..b.', /empty label/],
    ['.a.', /empty label/],
    [`${'x'.repeat(64)}.`, /longer than 63/],
    [`${'x'.repeat(60)}.`.repeat(5), /longer than 255/],
    ['a\\256.', /above 255/],
    ['a\\', /dangling/],
  ] as const) {
    assert.throws(() => writeName(buf, 0, name), msg, name);
  }
  assert.throws(() => writeName(buf, 0, 'printer.local.', 8), /no room/);
});

test('readName uses the same RFC 1035 §5.1 escapes as presentation.ts', () => {
  for (const name of ['local.', 'PrInTeR.LoCaL.', 'My\\032Printer._ipp._tcp.local.', 'a\\.b.local.', 'B\\195\\188ro.local.', '.']) {
    const w = encodeName(name);
    assert.equal(readName(w, 0), name);
    const buf = new Uint8Array(300);
    assert.deepEqual(Buffer.from(buf.subarray(0, writeName(buf, 0, name))), w, `agrees with presentation.encodeName: ${name}`);
  }
});

test('equalFold folds ASCII only; nameToWireLower', () => {
  const a = wire('LoCaL');
  assert.ok(equalFold(a, 0, nameToWireLower('local.'), 0, a.length));
  assert.ok(!equalFold(wire([0xc3]), 0, wire([0xe3]), 0, 2), 'no folding outside A-Z');
  assert.deepEqual(Buffer.from(nameToWireLower('A.LOCAL')), wire('a', 'local'));
});
