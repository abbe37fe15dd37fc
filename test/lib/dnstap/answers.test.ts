import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractAnswers, namesLeadingTo, type CnameLink, type ResponseAnswers } from '../../../src/lib/dnstap/answers.js';

const labels = (...ls: string[]): number[] => ls.flatMap((l) => [Buffer.byteLength(l), ...Buffer.from(l)]);
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const ptr = (off: number): number[] => [0xc0 | (off >> 8), off & 0xff];
const header = (an: number, flags = 0x8180, qd = 1): number[] => [0x12, 0x34, ...u16(flags), ...u16(qd), ...u16(an), 0, 0, 0, 0];
const rr = (owner: number[], type: number, ttl: number, rdata: number[], klass = 1): number[] => [...owner, ...u16(type), ...u16(klass), ...u32(ttl), ...u16(rdata.length), ...rdata];

// Question "WWW.Listed.Example." A IN at 12: www @12, listed @16, example @23, root @31.
const QNAME = [...labels('WWW', 'Listed', 'Example'), 0];
const question = [...QNAME, ...u16(1), ...u16(1)];
const AT_Q = 12;

const ok = (msg: number[]): ResponseAnswers => {
  const r = extractAnswers(Uint8Array.from(msg));
  assert.equal(r.kind, 'answers', JSON.stringify(r));
  return r as ResponseAnswers;
};

test('a CNAME chain with compressed owners and targets, then A and AAAA at its end', () => {
  // www.listed.example. CNAME edge.cdn.net. ; edge.cdn.net. CNAME e1.cdn.net. ; e1.cdn.net. A / AAAA
  const cname1Rdata = [...labels('edge', 'cdn', 'net'), 0];
  const first = [...header(4), ...question];
  const rr1 = rr(ptr(AT_Q), 5, 300, cname1Rdata);
  const edgeAt = first.length + 2 + 10; // the rdata of rr1 starts after a 2-byte owner and 10 fixed bytes
  const cdnAt = edgeAt + 5;
  const rr2 = rr(ptr(edgeAt), 5, 120, [...labels('e1'), ...ptr(cdnAt)]);
  const e1At = first.length + rr1.length + 2 + 10;
  const rr3 = rr(ptr(e1At), 1, 60, [203, 0, 113, 7]);
  const rr4 = rr(ptr(e1At), 28, 0x80000001, [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]);
  const a = ok([...first, ...rr1, ...rr2, ...rr3, ...rr4]);
  assert.equal(a.question, 'www.listed.example.');
  assert.equal(a.qtype, 1);
  assert.equal(a.rcode, 0);
  assert.deepEqual(a.cnames, [
    { owner: 'www.listed.example.', target: 'edge.cdn.net.', ttl: 300 },
    { owner: 'edge.cdn.net.', target: 'e1.cdn.net.', ttl: 120 },
  ]);
  assert.deepEqual(
    a.addresses.map((x) => [x.owner, x.family, x.address, x.ttl]),
    [
      ['e1.cdn.net.', 'ipv4', '203.0.113.7', 60],
      ['e1.cdn.net.', 'ipv6', '2001:db8::1', 0], // RFC 2181 §8: top-bit TTL reads as 0
    ],
  );
  assert.deepEqual([...(a.addresses[0]?.words ?? [])], [0xcb007107]);
  assert.deepEqual(namesLeadingTo('e1.cdn.net.', a.cnames), ['e1.cdn.net.', 'edge.cdn.net.', 'www.listed.example.']);
});

test('a screen on owners: an answer none of whose owners it wants has no addresses; a wanted chain head keeps them all', () => {
  // www.listed.example. CNAME edge.cdn.net. ; edge.cdn.net. A 203.0.113.7
  const first = [...header(2), ...question];
  const rr1 = rr(ptr(AT_Q), 5, 300, [...labels('edge', 'cdn', 'net'), 0]);
  const edgeAt = first.length + 2 + 10;
  const msg = Uint8Array.from([...first, ...rr1, ...rr(ptr(edgeAt), 1, 60, [203, 0, 113, 7])]);
  const asked: string[] = [];
  const none = extractAnswers(msg, undefined, (n) => {
    asked.push(n);
    return false;
  });
  assert.equal(none.kind, 'answers');
  assert.deepEqual(asked, ['www.listed.example.', 'edge.cdn.net.'], 'each owner asked once');
  assert.deepEqual(none.kind === 'answers' ? [none.addresses.length, none.cnames.length, none.question] : [], [0, 0, 'www.listed.example.']);
  const head = extractAnswers(msg, undefined, (n) => n === 'www.listed.example.');
  assert.deepEqual(head, extractAnswers(msg), 'wanted: the same result as unscreened');
  assert.equal(head.kind === 'answers' ? head.addresses[0]?.address : undefined, '203.0.113.7');
});

test("messages read one after another never see each other's names (the name table is reused)", () => {
  // Message 1 reads a name starting at offset 29 (an answer's uncompressed owner).
  const m1 = [...header(1), ...labels('one', 'example'), 0, ...u16(1), ...u16(1), ...rr([...labels('one', 'example'), 0], 1, 60, [192, 0, 2, 1])];
  assert.deepEqual(
    ok(m1).addresses.map((a) => a.owner),
    ['one.example.'],
  );
  // Message 2 (no question): offset 29 lies inside a CNAME's rdata, where the name `x.` starts;
  // the next owner points there. A table kept from message 1 would answer `one.example.`.
  const m2 = [...header(2, 0x8180, 0), ...rr([...labels('ab'), 0], 5, 60, [...labels('zz', 'x'), 0]), ...rr(ptr(29), 1, 60, [192, 0, 2, 2])];
  assert.deepEqual(
    ok(m2).addresses.map((a) => [a.owner, a.address]),
    [['x.', '192.0.2.2']],
  );
});

test('other types are ignored, wrong class or rdata size skipped and counted; NXDOMAIN is an empty answer', () => {
  const msg = [
    ...header(4),
    ...question,
    ...rr(ptr(AT_Q), 16, 60, [3, 0x61, 0x62, 0x63]), // TXT
    ...rr(ptr(AT_Q), 1, 60, [10, 0, 0, 1], 3), // A in CHAOS
    ...rr(ptr(AT_Q), 1, 60, [10, 0, 0]), // A with 3 bytes
    ...rr(ptr(AT_Q), 1, 60, [192, 0, 2, 1]),
  ];
  const a = ok(msg);
  assert.equal(a.skipped, 2);
  assert.deepEqual(
    a.addresses.map((x) => x.address),
    ['192.0.2.1'],
  );
  const nx = ok([...header(0, 0x8183), ...question]);
  assert.equal(nx.rcode, 3);
  assert.deepEqual(nx.addresses, []);
});

test('malformed responses come back as typed errors, never throw', () => {
  const cases: [name: string, msg: number[], reason: string][] = [
    ['short', [1, 2, 3], 'short-header'],
    ['a query (QR=0)', [...header(0, 0x0100), ...question], 'not-response'],
    ['two questions', [...header(0, 0x8180, 2), ...question, ...question], 'qdcount'],
    ['pointer to itself', [...header(1), ...question, ...rr(ptr(AT_Q + question.length), 1, 60, [1, 2, 3, 4])], 'bad-name'],
    ['pointer forwards', [...header(1), ...question, ...rr(ptr(200), 1, 60, [1, 2, 3, 4])], 'bad-name'],
    ['pointer into the header', [...header(1), ...question, ...rr(ptr(2), 1, 60, [1, 2, 3, 4])], 'bad-name'],
    ['label type 01', [...header(1), ...question, 0x41, 0], 'bad-name'],
    ['rdata past the end', [...header(1), ...question, ...ptr(AT_Q), ...u16(1), ...u16(1), ...u32(60), ...u16(40), 1, 2], 'truncated'],
    ['answers promised, none there', [...header(3), ...question], 'truncated'],
    ['question cut short', [...header(0), ...QNAME, 0], 'truncated'],
    ['CNAME target runs past its rdata', [...header(1), ...question, ...rr(ptr(AT_Q), 5, 60, [3, 0x61, 0x62])], 'bad-cname'],
    ['CNAME target pointing at itself', [...header(1), ...question, ...rr(ptr(AT_Q), 5, 60, ptr(12 + question.length + 12))], 'bad-cname'],
    // The owner after it has been read (owners are read before CNAME targets): a forward pointer all the same.
    ['CNAME target pointing forwards at the next owner', [...header(2), ...question, ...rr(ptr(AT_Q), 5, 60, ptr(12 + question.length + 14)), ...rr([1, 0x62, 0], 1, 60, [192, 0, 2, 1])], 'bad-cname'],
  ];
  for (const [name, msg, reason] of cases) {
    const r = extractAnswers(Uint8Array.from(msg));
    assert.deepEqual(r, { kind: 'error', reason }, name);
  }
  // Random junk: any typed outcome, no exception.
  for (let i = 0; i < 2000; i++) {
    const junk = Uint8Array.from({ length: 12 + (i % 300) }, (_, k) => (k === 2 ? 0x81 : (i * 7919 + k * 104729) & 0xff));
    const r = extractAnswers(junk);
    assert.ok(r.kind === 'answers' || r.kind === 'error');
  }
});

test('a pointer chain of maximum length is read; a backwards loop cannot be built', () => {
  // Inside the rdata of an unknown-type record: names "lN" + a pointer to name N-1, 40 deep; then
  // an A whose owner points at the last one. Every hop goes backwards, so it is followed.
  const msg = [...header(2, 0x8180, 0)];
  const rdataAt = msg.length + 1 + 10; // root owner (1 byte) + fixed fields
  const rdata: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < 40; i++) {
    starts.push(rdataAt + rdata.length);
    rdata.push(...labels(`l${i}`), ...(i === 0 ? [...labels('test'), 0] : ptr(starts[i - 1] as number)));
  }
  msg.push(...rr([0], 65280, 5, rdata));
  msg.push(...rr(ptr(starts[39] as number), 1, 5, [198, 51, 100, 1]));
  const a = ok(msg);
  assert.equal(a.question, undefined);
  assert.equal(a.addresses[0]?.owner.split('.').length, 42);
});

test('answer count is capped', () => {
  const many = [...header(300), ...question];
  for (let i = 0; i < 300; i++) many.push(...rr(ptr(AT_Q), 1, 60, [10, 0, i >> 8, i & 0xff]));
  const r = extractAnswers(Uint8Array.from(many), 100);
  assert.equal(r.kind, 'answers');
  if (r.kind === 'answers') {
    assert.equal(r.addresses.length, 100);
    assert.equal(r.capped, true);
  }
});

test('namesLeadingTo: forks, loops and long chains are bounded', () => {
  const link = (owner: string, target: string): CnameLink => ({ owner, target, ttl: 1 });
  assert.deepEqual(namesLeadingTo('x.', []), ['x.']);
  assert.deepEqual(namesLeadingTo('c.', [link('a.', 'c.'), link('b.', 'c.'), link('z.', 'a.')]), ['c.', 'a.', 'b.', 'z.']);
  assert.deepEqual(namesLeadingTo('a.', [link('a.', 'b.'), link('b.', 'a.')]), ['a.', 'b.']);
  const long = Array.from({ length: 50 }, (_, i) => link(`n${i + 1}.`, `n${i}.`));
  assert.equal(namesLeadingTo('n0.', long).length, 17);
});
