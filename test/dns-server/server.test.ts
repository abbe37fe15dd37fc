import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import { promisify } from 'node:util';
import type { ZoneAnswer } from '../../src/lib/dns-wire/types.js';
import { isSidecarError } from '../../src/errors.js';
import { createDnsServer } from '../../src/dns-server/index.js';
import { Registry } from 'prom-client';
import { a, buildQuery, decode, silentLogger, startServer, tcpExchange, udpExchange } from './dns-test-client.js';

const TXT = 16;
const bigRecords = Array.from({ length: 40 }, (_, i) => ({
  name: 'big.local.',
  type: TXT,
  class: 1,
  ttl: 60,
  data: Uint8Array.from([30, ...Buffer.from(`txt-record-${String(i).padStart(3, '0')}`.padEnd(30, '.'))]),
}));

/** The fake zone: a few names, one that hangs forever, one that throws. */
async function fakeResolve(q: { name: string; type: number }): Promise<ZoneAnswer> {
  const name = q.name.toLowerCase();
  if (name === 'printer.local.') {
    return q.type === 1 ? { kind: 'answer', records: [{ name: q.name, type: 1, class: 1, ttl: 120, data: a('10.77.0.5') }] } : { kind: 'nodata' };
  }
  if (name === 'big.local.') return { kind: 'answer', records: bigRecords };
  if (name === 'hang.local.') return new Promise<ZoneAnswer>(() => {});
  if (name === 'throw.local.') throw new Error('boom');
  if (name === 'down.local.') return { kind: 'servfail', reason: 'avahi down' };
  return { kind: 'nxdomain' };
}

describe('dns server (fake resolve, 127.0.0.1)', () => {
  let port = 0;
  let stop: () => Promise<void> = async () => {};
  before(async () => {
    const s = await startServer({ resolve: fakeResolve });
    port = s.port;
    stop = () => s.server.stop();
  });
  after(() => stop());

  const ask = async (spec: Parameters<typeof buildQuery>[0]) => {
    const raw = await udpExchange(port, buildQuery(spec));
    assert.ok(raw, `no reply for ${spec.name}`);
    return { raw, msg: decode(raw) };
  };

  test('answers in-zone A, QR/AA set, RA never, RD and ID echoed', async () => {
    const { msg } = await ask({ id: 0xbeef, name: 'printer.local', type: 1 });
    assert.equal(msg.header.id, 0xbeef);
    assert.deepEqual([msg.header.qr, msg.header.aa, msg.header.ra, msg.header.rd, msg.header.rcode], [1, 1, 0, 1, 0]);
    assert.equal(msg.answers[0]?.address, '10.77.0.5');
  });

  test('0x20: question and owner come back with the case asked', async () => {
    const q = buildQuery({ name: 'PrInTeR.LoCaL', type: 1 });
    const raw = await udpExchange(port, q);
    assert.ok(raw);
    assert.deepEqual(raw.subarray(12, q.length), q.subarray(12), 'question byte for byte');
    assert.equal(decode(raw).answers[0]?.name, 'PrInTeR.LoCaL');
  });

  test('off-zone and non-IN are REFUSED', async () => {
    for (const spec of [
      { name: 'example.com', type: 1 },
      { name: 'local.example.com', type: 1 },
      { name: 'printer.local', type: 1, qclass: 3 },
    ]) {
      const { msg } = await ask(spec);
      assert.equal(msg.header.rcode, 5, spec.name);
      assert.equal(msg.header.aa, 0);
    }
  });

  test('NXDOMAIN and NODATA carry the zone SOA with the negative TTL as minimum', async () => {
    for (const [name, rcode] of [
      ['nope.local', 3],
      ['printer.local', 0],
    ] as const) {
      const { msg } = await ask({ name, type: 28 });
      assert.equal(msg.header.rcode, rcode);
      assert.equal(msg.answers.length, 0);
      const soa = msg.authorities[0];
      assert.equal(soa?.type, 6);
      assert.equal(soa?.name, 'local');
      assert.equal(soa?.ttl, 30);
      assert.equal(soa?.minimum, 30);
      assert.equal(soa?.primary, 'localhost');
    }
    const rev = await ask({ name: '9.0.77.10.in-addr.arpa', type: 12 });
    assert.equal(rev.msg.authorities[0]?.name, '77.10.in-addr.arpa', 'longest zone wins');
  });

  test('apex: SOA and NS answered, ANY gets the SOA, every other type NODATA; well-known empty non-terminals NODATA', async () => {
    // [name, type, rcode, answer types, authority types]: none of these reaches resolve.
    const table: [string, number, number, number[], number[]][] = [
      ['local', 6, 0, [6], []],
      ['LOCAL', 2, 0, [2], []],
      ['local', 255, 0, [6], []],
      ['local', 1, 0, [], [6]],
      ['local', 48, 0, [], [6]], // DNSKEY
      ['local', 16, 0, [], [6]],
      ['77.10.in-addr.arpa', 2, 0, [2], []],
      ['_tcp.local', 12, 0, [], [6]],
      ['_UDP.local', 1, 0, [], [6]],
      ['_dns-sd._udp.local', 12, 0, [], [6]],
      ['_dns-sd._udp.local', 255, 0, [], [6]],
      ['_tcp.77.10.in-addr.arpa', 12, 0, [], [6]],
    ];
    for (const [name, type, rcode, an, ns] of table) {
      const { msg } = await ask({ name, type });
      const got = [msg.header.rcode, msg.header.aa, msg.header.ra, msg.answers.map((r) => r.type), msg.authorities.map((r) => r.type)];
      assert.deepEqual(got, [rcode, 1, 0, an, ns], `${name} ${type}`);
    }
    const ns = await ask({ name: 'local', type: 2 });
    assert.equal((ns.msg.answers[0] as { ns?: string } | undefined)?.ns, 'localhost');
  });

  test('EDNS: OPT in reply iff the query had one; DO echoed; version 1 → BADVERS', async () => {
    const plain = await ask({ name: 'printer.local', type: 1 });
    assert.equal(plain.msg.additionals.length, 0);
    const edns = await ask({ name: 'printer.local', type: 1, edns: { udpSize: 4096, do: true } });
    const opt = edns.msg.additionals[0];
    assert.equal(opt?.type, 41);
    assert.equal(opt?.class, 1232);
    assert.equal(opt?.doFlag, true);
    const bad = await ask({ name: 'printer.local', type: 1, edns: { udpSize: 4096, version: 1 } });
    assert.equal(bad.msg.header.rcode, 16, 'BADVERS = header 0 + OPT extended rcode 1');
    assert.equal(bad.msg.answers.length, 0);
  });

  test('TC over UDP when the answer exceeds the client size; full answer over TCP', async () => {
    const small = await ask({ name: 'big.local', type: TXT });
    assert.equal(small.msg.header.tc, 1);
    assert.equal(small.msg.answers.length, 0);
    assert.ok(small.raw.length <= 512);
    const edns = await ask({ name: 'big.local', type: TXT, edns: { udpSize: 1232 } });
    assert.equal(edns.msg.header.tc, 1, '40 × ~45 bytes > 1232');
    assert.equal(edns.msg.additionals[0]?.type, 41, 'OPT kept in a truncated reply');
    const large = await ask({ name: 'big.local', type: TXT, edns: { udpSize: 4096 } });
    assert.equal(large.msg.header.tc, 0);
    assert.equal(large.msg.answers.length, 40);
    const [tcp] = await tcpExchange(port, [buildQuery({ name: 'big.local', type: TXT })]);
    assert.ok(tcp);
    const full = decode(tcp);
    assert.equal(full.header.tc, 0);
    assert.equal(full.answers.length, 40);
  });

  test('FORMERR with the ID for two questions and for garbage after the header; NOTIMP for opcode 2', async () => {
    const two = buildQuery({ id: 7, name: 'printer.local', type: 1 });
    two.writeUInt16BE(2, 4);
    const garbage = Buffer.concat([buildQuery({ id: 8, name: 'x', type: 1 }).subarray(0, 12), Buffer.from([0xc0, 0x0c, 0xff, 0x3f, 1, 2])]);
    for (const [msg, id, rcode] of [
      [two, 7, 1],
      [garbage, 8, 1],
      [buildQuery({ id: 9, name: 'printer.local', type: 1, opcode: 2 }), 9, 4],
    ] as const) {
      const raw = await udpExchange(port, msg);
      assert.ok(raw);
      assert.equal(raw.readUInt16BE(0), id);
      assert.equal(raw[3]! & 0x0f, rcode);
      assert.equal(raw[2]! & 0x80, 0x80, 'QR');
    }
  });

  test('error headers echo what RFC 1035 §4.1.1 copies and no more; NOTIMP with an OPT gets one (RFC 6891 §7)', async () => {
    // [query, byte2, byte3, additional count]: FORMERR keeps opcode/RD/CD of a QUERY; NOTIMP echoes
    // only the opcode (other opcodes define the rest of the header themselves); RA never.
    const formerr = buildQuery({ id: 1, name: 'printer.local', type: 1 });
    formerr.writeUInt16BE(2, 4);
    formerr[3] = 0x10 | 0x80; // CD and RA asked
    const notimp = buildQuery({ id: 2, name: 'printer.local', type: 1, opcode: 2 });
    notimp[3] = 0x10 | 0x80;
    const notimpOpt = buildQuery({ id: 3, name: 'printer.local', type: 1, opcode: 5, edns: { udpSize: 1232, do: true } });
    const cases: [Buffer, number, number, number][] = [
      [formerr, 0x81, 0x11, 0],
      [notimp, 0x90, 0x04, 0],
      [notimpOpt, 0xa8, 0x04, 1],
    ];
    for (const [msg, byte2, byte3, arcount] of cases) {
      const raw = await udpExchange(port, msg);
      assert.ok(raw);
      assert.deepEqual([raw[2], raw[3], raw.readUInt16BE(10)], [byte2, byte3, arcount], `query id ${msg.readUInt16BE(0)}`);
    }
  });

  test('responses (QR=1) and runts are never answered', async () => {
    const resp = buildQuery({ name: 'printer.local', type: 1 });
    resp[2] = resp[2]! | 0x80;
    assert.equal(await udpExchange(port, resp, 200), undefined);
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 200), undefined);
  });

  test('a resolve that hangs does not hold up others; one that throws → SERVFAIL', async () => {
    // Over UDP a hanging lookup is handed off to TCP (TC=1, no records) after udpHandoffMs.
    const hanging = udpExchange(port, buildQuery({ name: 'hang.local', type: 1 }), 300);
    const t0 = Date.now();
    const { msg } = await ask({ name: 'printer.local', type: 1 });
    assert.equal(msg.header.rcode, 0);
    assert.ok(Date.now() - t0 < 100);
    assert.equal((await ask({ name: 'throw.local', type: 1 })).msg.header.rcode, 2);
    assert.equal((await ask({ name: 'down.local', type: 1 })).msg.header.rcode, 2);
    const handedOff = await hanging;
    assert.ok(handedOff, 'the hanging UDP question gets the TC hand-off');
    assert.deepEqual([decode(handedOff).header.tc, decode(handedOff).answers.length], [1, 0]);
  });

  test('TCP: pipelined queries on one connection all answered', async () => {
    const qs = Array.from({ length: 50 }, (_, i) => buildQuery({ id: i, name: i % 2 ? 'printer.local' : 'nope.local', type: 1 }));
    const replies = await tcpExchange(port, qs);
    assert.deepEqual(
      replies.map((r) => r.readUInt16BE(0)).sort((x, y) => x - y),
      qs.map((_, i) => i),
    );
  });

  test('kdig agrees (UDP, TCP, EDNS, 0x20)', async (t) => {
    const kdig = promisify(execFile);
    const run = (args: string[]) => kdig('kdig', ['@127.0.0.1', '-p', String(port), '+noall', '+header', '+answer', '+question', ...args]).then((r) => r.stdout);
    let out: string;
    try {
      out = await run(['PrInTeR.LoCaL', 'A', '+edns', '+nocrypto']);
    } catch {
      return t.skip('kdig not installed');
    }
    assert.match(out, /status: NOERROR/);
    assert.match(out, /10\.77\.0\.5/);
    assert.match(await run(['big.local', 'TXT', '+tcp']), /ANSWER: 40/);
    assert.match(await run(['big.local', 'TXT', '+notcp', '+ignore']), /tc/);
  });
});

test('start() rejects with LISTEN_FAILED naming the address when the port is taken', async () => {
  const first = await startServer({ resolve: fakeResolve });
  const second = createDnsServer({
    listen: [{ host: '127.0.0.1', port: first.port }],
    zones: ['local.'],
    negativeTtl: 30,
    tcpIdleTimeoutMs: 1000,
    maxTcpConnections: 4,
    udpHandoffMs: 25,
    logger: silentLogger,
    registry: new Registry(),
    resolve: fakeResolve,
  });
  await assert.rejects(second.start(), (err: unknown) => isSidecarError(err, 'LISTEN_FAILED') && err.message.includes(`127.0.0.1:${first.port}`) && /ss -lntup/.test(err.message));
  await first.server.stop();
});

test('stop() aborts the signal handed to resolve', async () => {
  let seen: AbortSignal | undefined;
  const s = await startServer({
    resolve: (_q, _z, signal) => {
      seen = signal;
      return new Promise(() => {});
    },
  });
  void udpExchange(s.port, buildQuery({ name: 'x.local', type: 1 }), 200);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen?.aborted, false);
  await s.server.stop();
  assert.equal(seen?.aborted, true);
});

test('TCP: idle connections are destroyed even when the peer keeps its half open; the cap holds', async () => {
  const s = await startServer({ resolve: fakeResolve, tcpIdleTimeoutMs: 200, maxTcpConnections: 3 });
  const gauge = async () => (await s.registry.getSingleMetric('unbound_sidecar_dns_tcp_connections')?.get())?.values[0]?.value;
  const socks = Array.from({ length: 5 }, () => {
    const c = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
    c.on('error', () => {});
    return c;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await gauge(), 3, 'two over the cap were closed at once');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(await gauge(), 0, 'idle ones destroyed, not left half-open');
  socks.forEach((c) => c.destroy());
  await s.server.stop();
});
