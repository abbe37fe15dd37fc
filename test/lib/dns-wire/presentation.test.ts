import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRecord, parseRecordLine, PresentationError } from '../../../src/lib/dns-wire/presentation.js';

test('zone lines round-trip through wire rdata', () => {
  const cases: [string, string][] = [
    ['router.local. A 10.0.0.1', 'router.local.\t120\tIN\tA\t10.0.0.1'],
    ['router.local. 300 IN AAAA fd00::1', 'router.local.\t300\tIN\tAAAA\tfd00::1'],
    ['router.local AAAA 2001:db8:0:0:1::1', 'router.local.\t120\tIN\tAAAA\t2001:db8::1:0:0:1'],
    ['1.0.0.10.in-addr.arpa. PTR router.local', '1.0.0.10.in-addr.arpa.\t120\tIN\tPTR\trouter.local.'],
    ['_ipp._tcp.local. PTR Printer\\032A._ipp._tcp.local.', '_ipp._tcp.local.\t120\tIN\tPTR\tPrinter\\032A._ipp._tcp.local.'],
    ['p._ipp._tcp.local. SRV 0 0 631 host.local.', 'p._ipp._tcp.local.\t120\tIN\tSRV\t0 0 631 host.local.'],
    ['p._ipp._tcp.local. TXT "txtvers=1" "note=a \\"b\\""', 'p._ipp._tcp.local.\t120\tIN\tTXT\t"txtvers=1" "note=a \\"b\\""'],
    ['x.local. TYPE65534 \\# 3 010203', 'x.local.\t120\tIN\tTYPE65534\t\\# 3 010203'],
  ];
  for (const [input, expected] of cases) {
    const rr = parseRecordLine(input, 120);
    assert.equal(formatRecord(rr), expected, input);
  }
});

test('bad lines say what is wrong', () => {
  for (const [line, msg] of [
    ['router.local. A 10.0.0', /IPv4/],
    ['router.local. BOGUS 1', /unknown or missing record type/],
    ['router.local. A', /missing record data/],
    ['x.local. SRV 1 2 70000 t.local.', /0-65535/],
    ['x.local. HINFO "a" "b"', /generic form/],
    ['x.local. TYPE9 \\# 2 01', /does not match/],
  ] as const) {
    assert.throws(
      () => parseRecordLine(line, 120),
      (e: unknown) => e instanceof PresentationError && msg.test(e.message),
      line,
    );
  }
});
