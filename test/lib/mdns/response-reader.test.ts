import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readResponse, type MdnsAnswer } from '../../../src/lib/mdns/response-reader.js';
import { writeQuery } from '../../../src/lib/mdns/query-writer.js';

/** Wire labels: strings, or raw byte arrays for labels with odd bytes. No terminating zero. */
const labels = (...ls: (string | number[])[]): number[] => ls.flatMap((l) => (typeof l === 'string' ? [Buffer.byteLength(l), ...Buffer.from(l)] : [l.length, ...l]));
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const ptr = (off: number): number[] => [0xc0 | (off >> 8), off & 0xff];
const header = (opts: { flags?: number; qd?: number; an?: number } = {}): number[] => [...u16(0x1234), ...u16(opts.flags ?? 0x8400), ...u16(opts.qd ?? 1), ...u16(opts.an ?? 1), 0, 0, 0, 0];
const rr = (owner: number[], type: number, klass: number, ttl: number, rdata: number[]): number[] => [...owner, ...u16(type), ...u16(klass), ...u32(ttl), ...u16(rdata.length), ...rdata];
const answers = (msg: number[]): readonly MdnsAnswer[] => {
  const r = readResponse(Uint8Array.from(msg));
  assert.equal(r.kind, 'response', JSON.stringify(r));
  return r.kind === 'response' ? r.answers : [];
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Question at offset 12: "_ipp._tcp.local" PTR IN. Offsets: _ipp @12, _tcp @17, local @22, end @29.
const QNAME = [...labels('_ipp', '_tcp', 'local'), 0];
const question = [...QNAME, ...u16(12), ...u16(1)];

test('PTR with a compressed target: rdata comes out uncompressed, owner lowercased', () => {
  // Answer owner: pointer to the question; rdata: "My Printer v1.2" + pointer to _ipp._tcp.local.
  const instance = labels('My Printer v1.2');
  const msg = [...header(), ...question, ...rr(ptr(12), 12, 1, 10, [...instance, ...ptr(12)])];
  const [a] = answers(msg);
  assert.ok(a);
  assert.equal(hex(a.owner), hex(Uint8Array.from(QNAME)));
  assert.equal(a.type, 12);
  assert.equal(a.ttl, 10);
  // The dot inside the first label survives (dns-packet would have split it into two labels).
  assert.deepEqual([...a.rdata], [...instance, ...QNAME]);
});

test('SRV keeps its fixed fields and expands the target; names fold case for matching only', () => {
  const owner = [...labels('One', '_IPP'), ...ptr(17)];
  const srv = [...u16(0), ...u16(0), ...u16(631), ...labels('LanHost'), ...ptr(22)];
  const [a] = answers([...header(), ...question, ...rr(owner, 33, 1, 120, srv)]);
  assert.ok(a);
  assert.deepEqual([...a.owner], [...labels('one', '_ipp', '_tcp', 'local'), 0]);
  assert.deepEqual([...a.rdata], [0, 0, 0, 0, ...u16(631), ...labels('LanHost', 'local'), 0], 'rdata case kept');
});

test('cache-flush bit is stripped from the class and reported; a top-bit TTL is 0 (RFC 2181 §8)', () => {
  const msg = [...header({ an: 2 }), ...question, ...rr(ptr(12), 1, 0x8001, 120, [10, 77, 0, 2]), ...rr(ptr(12), 1, 0x0001, 0x80000000, [10, 77, 0, 3])];
  const [a, b] = answers(msg);
  assert.equal(a?.class, 1);
  assert.equal(a?.cacheFlush, true);
  assert.equal(b?.cacheFlush, false);
  assert.equal(b?.ttl, 0);
});

test('unknown and new types pass through byte for byte, even bytes that look like pointers', () => {
  const raw = [0xc0, 0x0c, 1, 2, 3];
  const [a] = answers([...header(), ...question, ...rr(ptr(12), 65534, 1, 60, raw)]);
  assert.deepEqual([...(a?.rdata ?? [])], raw);
  const [h] = answers([...header(), ...question, ...rr(ptr(12), 65, 1, 60, raw)]);
  assert.deepEqual([...(h?.rdata ?? [])], raw, 'HTTPS (RFC 9460) never compresses');
});

test('TXT and SOA/MX layouts', () => {
  const txt = [3, ...Buffer.from('a=1'), 0];
  const [t] = answers([...header(), ...question, ...rr(ptr(12), 16, 1, 60, txt)]);
  assert.deepEqual([...(t?.rdata ?? [])], txt);
  const soa = [...ptr(22), ...labels('h'), ...ptr(22), ...Array.from({ length: 20 }, (_, i) => i)];
  const [s] = answers([...header(), ...question, ...rr(ptr(12), 6, 1, 60, soa)]);
  assert.deepEqual([...(s?.rdata ?? [])], [...labels('local'), 0, ...labels('h', 'local'), 0, ...Array.from({ length: 20 }, (_, i) => i)]);
  const [m] = answers([...header(), ...question, ...rr(ptr(12), 15, 1, 60, [0, 10, ...ptr(22)])]);
  assert.deepEqual([...(m?.rdata ?? [])], [0, 10, ...labels('local'), 0]);
});

test('what is dropped: queries, opcodes, rcodes, short packets', () => {
  const drop = (msg: number[]): string => {
    const r = readResponse(Uint8Array.from(msg));
    return r.kind === 'drop' ? r.reason : 'response';
  };
  assert.equal(drop([1, 2, 3]), 'short');
  assert.equal(drop([...header({ flags: 0 }), ...question]), 'not-response');
  assert.equal(drop([...header({ flags: 0x8000 | (5 << 11) }), ...question]), 'bad-opcode');
  assert.equal(drop([...header({ flags: 0x8403 }), ...question]), 'bad-rcode');
});

test('hostile packets are malformed, never a hang or a throw', () => {
  const cases: [string, number[]][] = [
    ['pointer to itself', [...header({ qd: 0 }), ...rr(ptr(12), 1, 1, 1, [1, 2, 3, 4])]],
    ['forward pointer', [...header({ qd: 0 }), ...rr(ptr(40), 1, 1, 1, [1, 2, 3, 4]), ...new Array(40).fill(0)]],
    ['loop through two pointers', [...header({ qd: 0, an: 1 }), ...labels('a'), ...ptr(12), ...u16(1), ...u16(1), ...u32(1), ...u16(0)]],
    ['label too long', [...header({ qd: 0 }), 64, ...new Array(64).fill(0x61), 0, ...u16(1), ...u16(1), ...u32(1), ...u16(0)]],
    ['0x40 label type', [...header({ qd: 0 }), 0x41, 0, ...u16(1), ...u16(1), ...u32(1), ...u16(0)]],
    ['count larger than the data', [...header({ an: 65535 }), ...question]],
    ['rdlength past the end', [...header(), ...question, ...ptr(12), ...u16(1), ...u16(1), ...u32(1), ...u16(500), 1, 2]],
    ['PTR name running past rdlength', [...header(), ...question, ...rr(ptr(12), 12, 1, 1, [5, 0x61, 0x62])]],
    ['SRV shorter than its fixed part', [...header(), ...question, ...rr(ptr(12), 33, 1, 1, [0, 0, 0])]],
  ];
  for (const [what, msg] of cases) {
    const r = readResponse(Uint8Array.from(msg));
    assert.deepEqual(r, { kind: 'drop', reason: 'malformed' }, what);
  }
  // A name longer than 255 bytes built from a chain of backward pointers.
  const chain: number[] = [...header({ qd: 0 })];
  const starts: number[] = [];
  for (let i = 0; i < 6; i++) {
    starts.push(chain.length);
    chain.push(...labels('x'.repeat(60)), ...(i === 0 ? [0] : ptr(starts[i - 1] ?? 0)));
  }
  const hdr = chain.slice(0, 12);
  hdr[7] = 1;
  const long = [...hdr, ...chain.slice(12), ...ptr(starts[5] ?? 0), ...u16(1), ...u16(1), ...u32(1), ...u16(0)];
  assert.deepEqual(readResponse(Uint8Array.from(long)), { kind: 'drop', reason: 'malformed' });
});

test('answers beyond maxAnswers are not read (bounded work per datagram)', () => {
  const many = Array.from({ length: 10 }, (_, i) => rr(ptr(12), 1, 1, 1, [10, 0, 0, i])).flat();
  const r = readResponse(Uint8Array.from([...header({ an: 10 }), ...question, ...many]), 3);
  assert.equal(r.kind === 'response' && r.answers.length, 3);
});

test('writeQuery: one question, flags zero, escaped labels encoded as bytes', () => {
  const q = writeQuery(0xbeef, 'My\\032Printer\\.v2._ipp._tcp.local.', 33);
  assert.deepEqual([...q.subarray(0, 12)], [0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...q.subarray(12)], [...labels('My Printer.v2', '_ipp', '_tcp', 'local'), 0, 0, 33, 0, 1]);
});

test('an A or AAAA whose rdata is not 4 or 16 octets (RFC 1035 §3.4.1, RFC 3596 §2.2) is skipped, the rest kept', () => {
  const host = [...labels('printer', 'local'), 0];
  const msg = [
    ...header({ an: 4 }),
    ...question,
    ...rr(host, 1, 1, 120, [10, 0]),
    ...rr(ptr(29 + 4), 1, 1, 120, [10, 0, 0, 7]),
    ...rr(ptr(29 + 4), 28, 1, 120, [0xfe, 0x80, 0, 0]),
    ...rr(ptr(29 + 4), 28, 1, 120, [0xfe, 0x80, ...Array<number>(13).fill(0), 1]),
  ];
  assert.deepEqual(
    answers(msg).map((a) => [a.type, [...a.rdata].length]),
    [
      [1, 4],
      [28, 16],
    ],
  );
});
