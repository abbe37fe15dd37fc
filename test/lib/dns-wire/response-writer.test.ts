import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packet } from 'dns2';
import { writeResponse, type ResponseSpec } from '../../../src/lib/dns-wire/response-writer.js';
import type { ResourceRecord } from '../../../src/lib/dns-wire/types.js';

/** A request as bytes: header + one question (+ OPT). Built by hand, not with the code under test. */
function request(name: string, type = 1, flags = 0x0100): Buffer {
  const labels = name
    .split('.')
    .filter(Boolean)
    .flatMap((l) => [l.length, ...Buffer.from(l)]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xabcd, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, Buffer.from([...labels, 0, type >> 8, type & 0xff, 0, 1])]);
}

const A = (name: string, ip = [10, 0, 0, 1]): ResourceRecord => ({ name, type: 1, class: 1, ttl: 120, data: Uint8Array.from(ip) });

function spec(req: Buffer, over: Partial<ResponseSpec> = {}): ResponseSpec {
  return {
    id: req.readUInt16BE(0),
    requestFlags: req.readUInt16BE(2),
    aa: true,
    rcode: 0,
    request: req,
    questionEnd: req.length,
    answers: [],
    authority: [],
    maxSize: 512,
    lengthPrefix: false,
    ...over,
  };
}

test('header flags: QR always, RA never; AA and TC as asked; opcode, RD and CD echoed; rcode low bits', () => {
  const cases: { flags: number; over: Partial<ResponseSpec>; byte2: number; byte3: number }[] = [
    { flags: 0x0100, over: {}, byte2: 0x85, byte3: 0x00 }, // RD → QR|AA|RD; no RA (no recursion offered)
    { flags: 0x0000, over: { aa: false, rcode: 5 }, byte2: 0x80, byte3: 0x05 }, // no RD, REFUSED
    { flags: 0x0110, over: { aa: false, rcode: 2 }, byte2: 0x81, byte3: 0x12 }, // CD echoed
    { flags: 0x0130, over: { rcode: 3 }, byte2: 0x85, byte3: 0x13 }, // AD from the query is not echoed
    { flags: 0x0180, over: { rcode: 0 }, byte2: 0x85, byte3: 0x00 }, // RA in the query is not echoed either
    { flags: 0x0100, over: { truncate: true }, byte2: 0x87, byte3: 0x00 }, // the hand-off: AA|TC|RD
    { flags: 0x7fff & 0x0100, over: { rcode: 16, opt: { udpSize: 1232, dnssecOk: false } }, byte2: 0x85, byte3: 0x00 }, // BADVERS: low bits 0
  ];
  for (const c of cases) {
    const out = writeResponse(spec(request('a.local', 1, c.flags), c.over));
    assert.equal(out.readUInt16BE(0), 0xabcd);
    assert.equal(out[2], c.byte2, `byte2 for ${JSON.stringify(c)}`);
    assert.equal(out[3], c.byte3, `byte3 for ${JSON.stringify(c)}`);
  }
});

test('question bytes are copied verbatim (0x20 mixed case) and owners compress to it', () => {
  const req = request('PrInTeR.LoCaL');
  const out = writeResponse(spec(req, { answers: [A('printer.local.')] }));
  assert.deepEqual(out.subarray(12, req.length), req.subarray(12));
  // Owner is a pointer to offset 12, so the answer shows the asked case too.
  assert.deepEqual([...out.subarray(req.length, req.length + 2)], [0xc0, 12]);
  const p = Packet.parse(out);
  assert.equal(p.questions[0]?.name, 'PrInTeR.LoCaL');
  assert.equal(p.answers[0]?.name, 'PrInTeR.LoCaL');
  assert.equal(p.answers[0]?.address, '10.0.0.1');
});

test('OPT present iff asked for, with our size, DO echoed and the extended rcode', () => {
  const req = request('a.local');
  for (const [opt, rcode, expect] of [
    [undefined, 0, undefined],
    [{ udpSize: 1232, dnssecOk: false }, 0, { cls: 1232, ttl: 0 }],
    [{ udpSize: 1232, dnssecOk: true }, 0, { cls: 1232, ttl: 0x8000 }],
    [{ udpSize: 1232, dnssecOk: false }, 16, { cls: 1232, ttl: 0x01000000 }],
  ] as const) {
    const out = writeResponse(spec(req, { opt, rcode }));
    assert.equal(out.readUInt16BE(10), expect ? 1 : 0, 'ARCOUNT');
    if (!expect) {
      assert.equal(out.length, req.length);
      continue;
    }
    const o = req.length;
    assert.deepEqual([out[o], out.readUInt16BE(o + 1), out.readUInt16BE(o + 3), out.readUInt32BE(o + 5), out.readUInt16BE(o + 9)], [0, 41, expect.cls, expect.ttl, 0]);
  }
});

test('TC: records dropped when over maxSize (OPT kept), not when under; TCP prefix', () => {
  const req = request('big.local', 16);
  const txt = (i: number): ResourceRecord => ({ name: 'big.local.', type: 16, class: 1, ttl: 60, data: Uint8Array.from([40, ...Buffer.alloc(40, 97 + (i % 26))]) });
  const many = Array.from({ length: 20 }, (_, i) => txt(i)); // 20 × (2+10+41) = 1060 bytes
  const cases = [
    { maxSize: 512, opt: undefined, tc: true },
    { maxSize: 1232, opt: { udpSize: 1232, dnssecOk: false }, tc: false },
    { maxSize: 1000, opt: { udpSize: 1232, dnssecOk: false }, tc: true },
    { maxSize: 65535, opt: undefined, tc: false },
  ];
  for (const c of cases) {
    const out = writeResponse(spec(req, { answers: many, maxSize: c.maxSize, opt: c.opt }));
    assert.ok(out.length <= c.maxSize);
    assert.equal(Boolean(out[2]! & 0x02), c.tc, `TC at ${c.maxSize}`);
    assert.equal(out.readUInt16BE(6), c.tc ? 0 : 20, 'ANCOUNT');
    assert.equal(out.readUInt16BE(10), c.opt ? 1 : 0, 'ARCOUNT');
    assert.deepEqual(out.subarray(12, req.length), req.subarray(12));
  }
  const tcp = writeResponse(spec(req, { answers: many, maxSize: 65535, lengthPrefix: true }));
  assert.equal(tcp.readUInt16BE(0), tcp.length - 2);
  assert.equal(Packet.parse(tcp.subarray(2)).answers.length, 20);
});

test('SOA in AUTHORITY: owner compressed to the zone suffix of the question', () => {
  const req = request('Nope.Local', 28);
  const name = (...labels: string[]) => Buffer.from([...labels.flatMap((l) => [l.length, ...Buffer.from(l)]), 0]);
  const nums = Buffer.alloc(20);
  [1, 3600, 600, 86400, 30].forEach((v, i) => nums.writeUInt32BE(v, i * 4));
  const soaData = Buffer.concat([name('localhost'), name('nobody', 'invalid'), nums]);
  const soa: ResourceRecord = { name: 'local.', type: 6, class: 1, ttl: 30, data: soaData };
  const out = writeResponse(spec(req, { rcode: 3, authority: [soa] }));
  const p = Packet.parse(out);
  assert.equal(p.header.rcode, 3);
  const auth = p.authorities[0];
  assert.equal(auth?.name, 'Local', 'points at the question\'s own "Local" label');
  assert.deepEqual([auth?.primary, auth?.admin, auth?.serial, auth?.refresh, auth?.retry, auth?.expiration, auth?.minimum, auth?.ttl], ['localhost', 'nobody.invalid', 1, 3600, 600, 86400, 30, 30]);
});

test('raw rdata of an unknown type passes through untouched', () => {
  const req = request('x.local', 65534);
  const data = Uint8Array.from([0, 1, 2, 0xc0, 0x0c, 0xff]); // even pointer-looking bytes stay raw
  const out = writeResponse(spec(req, { answers: [{ name: 'x.local.', type: 65534, class: 1, ttl: 5, data }] }));
  assert.deepEqual([...out.subarray(out.length - data.length)], [...data]);
  assert.equal(out.readUInt16BE(out.length - data.length - 2), data.length, 'RDLENGTH');
  assert.equal(out.readUInt16BE(out.length - data.length - 10), 65534, 'TYPE');
});

test('owners that are not the question (or escaped) are written in full', () => {
  const req = request('_ipp._tcp.local', 12);
  const out = writeResponse(spec(req, { answers: [A('My\\032Printer\\.x._ipp._tcp.local.'), A('other.local.')] }));
  const p = Packet.parse(out);
  assert.equal(p.answers[0]?.name, 'My Printer.x._ipp._tcp.local'); // dns2 joins labels with "."
  assert.equal(p.answers[1]?.name, 'other.local');
  assert.ok(out.includes(Buffer.from([12, ...Buffer.from('My Printer.x'), 4, ...Buffer.from('_ipp')])), 'one label with a space and a dot');
});

test('header-only error reply, and bad records throw (caller turns that into SERVFAIL)', () => {
  const out = writeResponse({ id: 7, requestFlags: 0x0100, aa: false, rcode: 1, answers: [], authority: [], maxSize: 512, lengthPrefix: false });
  assert.deepEqual([...out], [0, 7, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
  const req = request('a.local');
  assert.throws(() => writeResponse(spec(req, { answers: [A('a..local.')] })), /empty label/);
  assert.throws(() => writeResponse(spec(req, { answers: [A(`${'x'.repeat(64)}.local.`)] })), /longer than 63/);
});
