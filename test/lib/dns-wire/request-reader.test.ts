import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readRequest, type ReadResult } from '../../../src/lib/dns-wire/request-reader.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// header: id 1234, flags, qd an ns ar
const H = (flags: string, qd = 1, an = 0, ns = 0, ar = 0) => `1234 ${flags} ${[qd, an, ns, ar].map((n) => n.toString(16).padStart(4, '0')).join(' ')}`;
const Q = '01 61 05 6c6f63616c 00 0001 0001'; // a.local. A IN (13 bytes, ends at 25)
const OPT = (cls = '1000', ttl = '00000000', rd = '0000 ') => `00 0029 ${cls} ${ttl} ${rd}`;

const summary = (r: ReadResult) =>
  r.kind === 'query'
    ? `query ${r.qtype}/${r.qclass} end=${r.questionEnd} edns=${r.edns ? `${r.edns.udpSize},v${r.edns.version},do=${r.edns.dnssecOk}` : '-'}`
    : r.kind === 'drop'
      ? `drop ${r.reason}`
      : `rcode ${r.rcode} ${r.reason ?? ''}`.trim();

test('readRequest: table of valid, malformed and hostile messages', () => {
  const cases: [string, string, string][] = [
    ['plain query', `${H('0100')} ${Q}`, 'query 1/1 end=25 edns=-'],
    ['with OPT, DO', `${H('0100', 1, 0, 0, 1)} ${Q} ${OPT('04d0', '00008000')}`, 'query 1/1 end=25 edns=1232,v0,do=true'],
    ['OPT version 1 is read (BADVERS is policy)', `${H('0100', 1, 0, 0, 1)} ${Q} ${OPT('0200', '00010000')}`, 'query 1/1 end=25 edns=512,v1,do=false'],
    ['OPT with a cookie option', `${H('0100', 1, 0, 0, 1)} ${Q} ${OPT('1000', '00000000', '000c 000a 0008 0102030405060708')}`, 'query 1/1 end=25 edns=4096,v0,do=false'],
    ['answer with a backward pointer (skipped)', `${H('0000', 1, 1)} ${Q} c00c 0001 0001 00000000 0004 0a000001`, 'query 1/1 end=25 edns=-'],
    ['runt', '1234 0100 0001', 'drop short-header'],
    ['empty', '', 'drop short-header'],
    ['response', `${H('8180')} ${Q}`, 'drop qr-set'],
    ['opcode STATUS', `${H('1100')} ${Q}`, 'rcode 4'],
    ['opcode UPDATE with junk', `${H('2800', 9)} ff`, 'rcode 4'],
    ['no question', H('0100', 0), 'rcode 1 qdcount'],
    ['two questions', `${H('0100', 2)} ${Q} ${Q}`, 'rcode 1 qdcount'],
    ['QDCOUNT 65535', `${H('0100', 65535)} ${Q}`, 'rcode 1 qdcount'],
    ['garbage after header', `${H('0100')} c00cff3f0102`, 'rcode 1 bad-name'],
    ['pointer in question', `${H('0100')} 01 61 c00c 0001 0001`, 'rcode 1 bad-name'],
    ['label type 01', `${H('0100')} 41 61 00 0001 0001`, 'rcode 1 bad-name'],
    ['name > 255', `${`${H('0100')} ${`3f${'61'.repeat(63)}`}`.repeat(1) + `3f${'62'.repeat(63)}`.repeat(4)}00 0001 0001`, 'rcode 1 bad-name'],
    ['question runs off the end', `${H('0100')} 05 6c6f63`, 'rcode 1 bad-name'],
    ['no qtype', `${H('0100')} 01 61 00 00`, 'rcode 1 truncated'],
    ['qtype OPT', `${H('0100')} 01 61 00 0029 0001`, 'rcode 1 bad-qtype'],
    ['ANCOUNT 65535, nothing there', `${H('0100', 1, 65535, 65535, 65535)} ${Q}`, 'rcode 1 truncated'],
    ['pointer forward', `${H('0100', 1, 1)} ${Q} c0ff 0001 0001 00000000 0000`, 'rcode 1 bad-name'],
    ['pointer to itself', `${H('0100', 1, 1)} ${Q} c019 0001 0001 00000000 0000`, 'rcode 1 bad-name'],
    ['pointer into the header', `${H('0100', 1, 1)} ${Q} c002 0001 0001 00000000 0000`, 'rcode 1 bad-name'],
    ['lying RDLENGTH', `${H('0100', 1, 1)} ${Q} 00 0001 0001 00000000 ffff 0a000001`, 'rcode 1 truncated'],
    ['two OPTs', `${H('0100', 1, 0, 0, 2)} ${Q} ${OPT()} ${OPT()}`, 'rcode 1 bad-opt'],
    ['OPT in answer section', `${H('0100', 1, 1)} ${Q} ${OPT()}`, 'rcode 1 bad-opt'],
    ['OPT not owned by root', `${H('0100', 1, 0, 0, 1)} ${Q} 01 61 00 0029 1000 00000000 0000`, 'rcode 1 bad-opt'],
    ['OPT option overruns rdata', `${H('0100', 1, 0, 0, 1)} ${Q} ${OPT('1000', '00000000', '0006 000a 00c8 0102')}`, 'rcode 1 bad-opt'],
    ['OPT huge rdlen', `${H('0100', 1, 0, 0, 1)} ${Q} ${OPT('ffff', '00000000', 'ffff 00')}`, 'rcode 1 truncated'],
    ['trailing bytes', `${H('0100')} ${Q} 00`, 'rcode 1 trailing-bytes'],
  ];
  for (const [label, wire, expected] of cases) {
    assert.equal(summary(readRequest(hex(wire))), expected, label);
  }
});

test('readRequest keeps ID and flags for error replies', () => {
  const r = readRequest(hex(`beef 0110 0002 0000 0000 0000 ${Q} ${Q}`));
  assert.deepEqual(r, { kind: 'error', rcode: 1, reason: 'qdcount', id: 0xbeef, flags: 0x0110 });
});

test('readRequest is linear: 64 KiB of minimal records is fast', () => {
  const rr = '00 fffe 0001 00000000 0000'; // root owner, 11 bytes
  const n = 5900;
  const msg = hex(`${H('0100', 1, n)} ${Q} ${rr.repeat(n)}`);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) assert.equal(readRequest(msg).kind, 'query');
  assert.ok(performance.now() - t0 < 200);
});
