import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsFront, dnsFrontConfigSchema, type DnsFront } from '../../src/dns-front/index.js';
import type { LearnAnswer } from '../../src/learner/index.js';
import { buildQuery, tcpExchange, udpExchange } from '../dns-server/dns-test-client.js';
import { setReceiveBuffer } from '../../src/lib/net/receive-buffer.js';
import { createUdpBatchSender } from '../../src/lib/net/udp-batch.js';
import { inCI } from '../lab/prereqs.js';
import { qname, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

/**
 * The front's own logic against a fake upstream on loopback (real sockets): ID remap, PROXYv2 as
 * sent, TC pass-through, upstream timeout, ACL, bounds, hostile input. Real Unbound with
 * proxy-protocol-port is in test/integration/.
 */

const logger = pino({ level: 'silent' });

async function withFront(
  opts: { behave?: Parameters<typeof startFakeUpstream>[0]; config?: Record<string, unknown>; learnAnswer?: LearnAnswer; proxied?: boolean },
  fn: (f: { port: number; up: FakeUpstream; front: DnsFront; registry: Registry }) => Promise<void>,
): Promise<void> {
  const up = await startFakeUpstream(opts.behave, opts.proxied ?? true);
  const registry = new Registry();
  const config = dnsFrontConfigSchema.parse({ listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${up.port}`, upstreamTimeoutMs: 300, ...opts.config });
  const front = createDnsFront({ config, learnAnswer: opts.learnAnswer, logger, registry });
  await front.start();
  try {
    const port = front.addresses().udp[0]?.port ?? 0;
    assert.equal(front.addresses().tcp[0]?.port, port, 'UDP and TCP on one port');
    await fn({ port, up, front, registry });
  } finally {
    await front.stop();
    await up.close();
  }
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const vals = (m?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
  return vals.filter((v) => (v.metricName === undefined || v.metricName === name) && Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

test('UDP: relayed byte for byte with the client ID restored; Unbound sees the client in PROXYv2', async () => {
  await withFront({}, async ({ port, up }) => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const q = buildQuery({ id: 0xbeef, name: 'www.Example.com', type: 1, edns: { udpSize: 1232, do: true } });
    const reply = await new Promise<Buffer>((resolve) => {
      sock.once('message', (m) => resolve(m));
      sock.send(q, port, '127.0.0.1');
    });
    const expected = Buffer.from(q);
    expected[2] = (q[2] as number) | 0x80;
    expected[3] = 0x80;
    assert.deepEqual(reply, expected, "answer = Unbound's, ID restored");
    assert.deepEqual(up.seen[0], { transport: 'udp', family: 0x12, src: '127.0.0.1', srcPort: sock.address().port, dst: '127.0.0.1', dstPort: port });
    sock.close();
  });
});

test('UDP: concurrent clients with the same ID each get their own answer (upstream IDs are remapped)', async () => {
  await withFront({}, async ({ port, up }) => {
    const names = Array.from({ length: 20 }, (_, i) => `n${i}.example`);
    const replies = await Promise.all(names.map((name) => udpExchange(port, buildQuery({ id: 7, name, type: 1 }))));
    for (const [i, r] of replies.entries()) {
      assert.ok(r, names[i]);
      assert.equal(r.readUInt16BE(0), 7);
      assert.equal(qname(r), names[i]);
    }
    assert.equal(new Set(up.ids).size, 20, 'distinct IDs towards Unbound');
  });
});

test('UDP: TC from Unbound stays TC; a silent Unbound is SERVFAIL after upstreamTimeoutMs, never a hang', async () => {
  await withFront({ behave: (n) => (n.startsWith('tc') ? 'tc' : n.startsWith('quiet') ? 'silent' : 'answer') }, async ({ port, registry }) => {
    const tc = await udpExchange(port, buildQuery({ id: 1, name: 'tc.example', type: 1 }));
    assert.ok(tc && (tc[2] as number) & 0x02, 'TC=1 passed through');
    const t0 = performance.now();
    const sf = await udpExchange(port, buildQuery({ id: 2, name: 'quiet.example', type: 1 }), 3000);
    assert.ok(sf);
    assert.equal((sf[3] as number) & 0x0f, 2, 'SERVFAIL');
    assert.equal(sf.readUInt16BE(0), 2);
    assert.equal(qname(sf), 'quiet.example', 'question echoed');
    assert.ok(performance.now() - t0 >= 250, 'not before the timeout');
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_upstream_timeouts_total', { transport: 'udp' }), 1);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_queries_total', { rcode: 'SERVFAIL' }), 1);
  });
});

test("UDP: an answer under a reused ID whose question is not the query's (a late answer to a timed-out query) is dropped, never relayed", async () => {
  await withFront({ behave: (n) => (n.startsWith('stale') ? 'stale' : 'answer') }, async ({ port, registry }) => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    sock.send(buildQuery({ id: 9, name: 'stale.example', type: 1 }), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    assert.deepEqual(
      got.map((m) => qname(m)),
      ['stale.example'],
      'only the answer to this question',
    );
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_dropped_total', { reason: 'late-answer' }), 1);
  });
});

test('UDP: Unbound not listening → SERVFAIL at once (ICMP refused), not at the timeout', async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const deadPort = probe.address().port;
  probe.close();
  const config = dnsFrontConfigSchema.parse({ listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${deadPort}`, upstreamTimeoutMs: 5000 });
  const front = createDnsFront({ config, learnAnswer: undefined, logger, registry: new Registry() });
  await front.start();
  try {
    const t0 = performance.now();
    const r = await udpExchange(front.addresses().udp[0]?.port ?? 0, buildQuery({ id: 3, name: 'x.example', type: 1 }), 4000);
    assert.ok(r);
    assert.equal((r[3] as number) & 0x0f, 2);
    assert.ok(performance.now() - t0 < 4000, 'well before upstreamTimeoutMs');
  } finally {
    await front.stop();
  }
});

test('ACL: a client outside front.allow gets REFUSED (header + question, no bigger than the query) and Unbound never sees it', async () => {
  await withFront({ config: { allow: ['10.0.0.0/8'] } }, async ({ port, up, registry }) => {
    const q = buildQuery({ id: 9, name: 'a.example', type: 1, edns: { udpSize: 4096 } });
    const r = await udpExchange(port, q);
    assert.ok(r);
    assert.equal((r[3] as number) & 0x0f, 5);
    assert.ok(r.length <= q.length);
    const [t] = await tcpExchange(port, [q]);
    assert.ok(t);
    assert.equal((t[3] as number) & 0x0f, 5, 'TCP too');
    // One REFUSED, then the front ends the connection: an outsider keeps no slot.
    const closed = await new Promise<{ replies: number; ended: boolean }>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let bytes = Buffer.alloc(0);
      const framed = Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
      s.on('connect', () => s.write(Buffer.concat([framed, framed, framed])));
      s.on('data', (d: Buffer) => (bytes = Buffer.concat([bytes, d])));
      s.on('error', () => {});
      const timer = setTimeout(() => (s.destroy(), resolve({ replies: -1, ended: false })), 2_000);
      s.on('close', () => {
        clearTimeout(timer);
        let n = 0;
        for (let i = 0; i + 2 <= bytes.length; i += 2 + bytes.readUInt16BE(i)) n++;
        resolve({ replies: n, ended: true });
      });
    });
    assert.deepEqual(closed, { replies: 1, ended: true }, 'one REFUSED for three pipelined queries, then closed');
    assert.equal(up.ids.length, 0);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_refused_clients_total'), 3);
  });
});

test('hostile UDP: responses (QR=1) and runts are dropped, never reflected; over maxInflight dropped; the front keeps answering', async () => {
  await withFront({ config: { maxInflight: 2 }, behave: (n) => (n.startsWith('quiet') ? 'silent' : 'answer') }, async ({ port, up, registry }) => {
    const resp = buildQuery({ id: 5, name: 'r.example', type: 1 });
    resp[2] = 0x80;
    assert.equal(await udpExchange(port, resp, 200), undefined);
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 200), undefined);
    const held = [udpExchange(port, buildQuery({ id: 1, name: 'quiet1.example', type: 1 })), udpExchange(port, buildQuery({ id: 2, name: 'quiet2.example', type: 1 }))];
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await udpExchange(port, buildQuery({ id: 3, name: 'third.example', type: 1 }), 150), undefined, 'third in flight is dropped');
    await Promise.all(held);
    const ok = await udpExchange(port, buildQuery({ id: 4, name: 'after.example', type: 1 }));
    assert.ok(ok && ((ok[3] as number) & 0x0f) === 0, 'answers again once in-flight drained');
    assert.equal(up.ids.length, 3, 'QR=1, runt and the dropped one never reached Unbound');
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_dropped_total', { reason: 'response' }), 1);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_dropped_total', { reason: 'malformed' }), 1);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_dropped_total', { reason: 'over-inflight' }), 1);
  });
});

test('UDP: one client flooding slow names takes at most maxInflightPerClient of the slots; another client is still served', async () => {
  await withFront({ config: { maxInflight: 4, maxInflightPerClient: 2 }, behave: (n) => (n.startsWith('quiet') ? 'silent' : 'answer') }, async ({ port, registry }) => {
    // Four slow queries would fill maxInflight (4) and lock everyone else out.
    const held = [1, 2, 3, 4].map((i) => udpExchange(port, buildQuery({ id: i, name: `quiet${i}.example`, type: 1 }), 500, '127.0.0.1'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_dropped_total', { reason: 'client-over-inflight' }), 2, "the flooder's third and fourth");
    const other = await udpExchange(port, buildQuery({ id: 9, name: 'fine.example', type: 1 }), 1000, '127.0.0.2');
    assert.ok(other && other.readUInt16BE(0) === 9 && ((other[3] as number) & 0x0f) === 0, 'the other client is answered');
    await Promise.all(held);
  });
});

test('UDP: Unbound not listening, a burst of queries: every client gets SERVFAIL with its own ID (errors from inside a batch flush included)', async () => {
  const dead = dgram.createSocket('udp4');
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
  const deadPort = dead.address().port;
  dead.close();
  await withFront({ config: { upstream: `127.0.0.1:${deadPort}`, maxInflight: 4096 } }, async ({ port }) => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: number[] = [];
    sock.on('message', (m) => got.push(m.readUInt16BE(0)));
    // One synchronous burst: the front reads it in one turn, so the 64th forward flushes inside
    // send() and meets the ICMP error the first one caused.
    for (let i = 0; i < 300; i++) sock.send(buildQuery({ id: 1000 + i, name: `q${i}.example`, type: 1 }), port, '127.0.0.1');
    const deadline = Date.now() + 3000;
    while (got.length < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    sock.close();
    const foreign = got.filter((id) => id < 1000 || id >= 1300);
    assert.deepEqual(foreign, [], 'no answer carries an ID the client did not send');
    assert.equal(new Set(got).size, got.length, 'one answer per query');
    assert.ok(got.length >= 250, `answered ${got.length} of 300 (a few may be lost to the receive buffer)`);
  });
});

test('TCP: pipelined queries on one upstream connection with one PROXYv2 header; answers out of order matched by ID', async () => {
  await withFront({ behave: () => 'reverse' }, async ({ port, up }) => {
    const qs = ['a.example', 'b.example', 'c.example'].map((name, i) => buildQuery({ id: 100 + i, name, type: 1 }));
    const replies = await tcpExchange(port, qs);
    const ids = replies.map((r) => r.readUInt16BE(0));
    assert.deepEqual(ids, [102, 101, 100], "in Unbound's order");
    assert.equal(up.tcpConnections, 1);
    assert.equal(up.seen.length, 1, 'one header per connection');
    assert.equal(up.seen[0]?.transport, 'tcp');
    assert.equal(up.seen[0]?.family, 0x11);
    assert.equal(up.seen[0]?.dstPort, port);
  });
});

test('hostile TCP: a huge length prefix that never completes is closed at the idle timeout while another client is served', async () => {
  await withFront({ config: { tcpIdleTimeoutMs: 300 } }, async ({ port }) => {
    const slow = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => slow.once('connect', () => r()));
    slow.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    const closed = new Promise<number>((r) => slow.once('close', () => r(performance.now())));
    const t0 = performance.now();
    const q = buildQuery({ id: 1, name: 'ok.example', type: 1 });
    const [r] = await tcpExchange(port, [q]);
    assert.ok(r, 'others are served meanwhile');
    assert.ok((await closed) - t0 < 3000, 'the stalled client is closed');
  });
});

test('insert, then answer: a listed answer waits for learnAnswer; past the deadline fail-open relays, failClosed SERVFAILs; unlisted is not held', async () => {
  let release: (() => void) | undefined;
  const events: string[] = [];
  const learnAnswer: LearnAnswer = (msg) => {
    const name = qname(Buffer.from(msg));
    if (!name.startsWith('listed')) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        events.push(`inserted ${name}`);
        resolve({ listed: 1, learned: 1, unchanged: 0, skipped: 0, failed: 0, held: 0, unavailable: undefined });
      };
      if (name.startsWith('listed-stuck')) return; // never: the kernel does not ACK
      if (name.startsWith('listed-slow')) release = done;
      else done();
    });
  };
  for (const failClosed of [false, true]) {
    await withFront({ learnAnswer, config: { insertDeadlineMs: 100, failClosed } }, async ({ port, registry, front }) => {
      events.length = 0;
      const slow = udpExchange(port, buildQuery({ id: 1, name: 'listed-slow.example', type: 1 })).then((r) => (events.push('answer listed-slow'), r));
      await new Promise((r) => setTimeout(r, 30));
      const un = await udpExchange(port, buildQuery({ id: 2, name: 'plain.example', type: 1 }));
      assert.ok(un && ((un[3] as number) & 0x0f) === 0, 'unlisted relayed while the listed one waits');
      assert.deepEqual(events, [], 'listed answer not sent before insertion');
      release?.();
      await slow;
      assert.deepEqual(events, ['inserted listed-slow.example', 'answer listed-slow']);
      const t0 = performance.now();
      const stuck = await udpExchange(port, buildQuery({ id: 3, name: 'listed-stuck.example', type: 1 }));
      assert.ok(stuck);
      assert.ok(performance.now() - t0 >= 90, 'held until the deadline');
      assert.equal((stuck[3] as number) & 0x0f, failClosed ? 2 : 0, failClosed ? 'fail-closed: SERVFAIL' : 'fail-open: the answer');
      assert.equal(await metric(registry, 'unbound_sidecar_dns_front_insert_deadline_misses_total', { action: failClosed ? 'fail-closed' : 'fail-open' }), 1);
      assert.equal(front.status().insertion.deadlineMisses, 1);
    });
  }
});

test('a held answer keeps its own bytes while bursts of answers after it are read into the same native slots', async () => {
  let release: (() => void) | undefined;
  const learnAnswer: LearnAnswer = (msg) => {
    if (!qname(Buffer.from(msg)).startsWith('listed')) return undefined;
    return new Promise((resolve) => {
      release = () => resolve({ listed: 1, learned: 1, unchanged: 0, skipped: 0, failed: 0, held: 0, unavailable: undefined });
    });
  };
  await withFront({ learnAnswer, config: { insertDeadlineMs: 5000 } }, async ({ port }) => {
    // Bursts: all but the first answer of each come through the drain (recvmmsg into native memory).
    const burst = (tag: string, n: number) => Array.from({ length: n }, (_, i) => udpExchange(port, buildQuery({ id: i, name: `${tag}-${i}.plain.example`, type: 1 }), 3000));
    const first = burst('a', 20);
    const held = udpExchange(port, buildQuery({ id: 777, name: 'listed-held.example', type: 1 }), 6000);
    const rest = [...first, ...burst('b', 20)];
    assert.ok((await Promise.all(rest)).every((r) => r !== undefined));
    for (let k = 0; k < 3; k++) assert.ok((await Promise.all(burst(`c${k}`, 40))).every((r) => r !== undefined));
    assert.ok(release, 'the listed answer is held');
    release();
    const r = await held;
    assert.ok(r);
    assert.equal(r.readUInt16BE(0), 777);
    assert.equal(qname(r), 'listed-held.example', 'its own question, not a later answer written over it');
  });
});

/** 1024 queries sent at once, 64 per sendmmsg, synchronously: all reach the front's queue before it reads one. How many got an answer. */
async function burst(port: number): Promise<number> {
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  try {
    setReceiveBuffer(client, 4 * 1024 * 1024); // the SERVFAILs come back as a burst too
    const got = new Set<number>();
    client.on('message', (m) => got.add(m.readUInt16BE(0)));
    const sender = createUdpBatchSender(client, { ipv6: false });
    const to = { address: '127.0.0.1', port, family: 'IPv4' as const, size: 0 };
    for (let i = 0; i < 1024; i++) sender.send([buildQuery({ id: i, name: `burst-${i}.example`, type: 1 })], to);
    // Answers (SERVFAIL: Unbound is silent here) come after upstreamTimeoutMs; then nothing more.
    let last = -1;
    const end = Date.now() + 5000;
    while (got.size < 1024 && Date.now() < end && (got.size === 0 || got.size !== last)) {
      last = got.size;
      await new Promise((r) => setTimeout(r, 400));
    }
    sender.close();
    return got.size;
  } finally {
    client.close();
  }
}

const burstOptions = (receiveBufferBytes: number) => ({ behave: () => 'silent' as const, config: { upstreamTimeoutMs: 300, maxInflight: 4096, maxInflightPerClient: 4096, receiveBufferBytes } });

test('a burst of 1024 queries queued while the front is busy is kept whole by its receive buffer; what a small buffer drops is counted', {
  skip: process.getuid?.() !== 0 && !inCI() ? 'needs CAP_NET_ADMIN (root) for SO_RCVBUFFORCE' : false,
}, async () => {
  await withFront(burstOptions(1024 * 1024), async ({ port, registry }) => {
    assert.equal(await burst(port), 1024, 'every query of the burst answered');
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_udp_kernel_drops_total', { socket: 'listener' }), 0);
  });
  // 4 KiB (the kernel keeps 8): a few queries fit, the kernel drops the rest, and the metric says how many.
  await withFront(burstOptions(4096), async ({ port, registry }) => {
    const answered = await burst(port);
    assert.ok(answered < 1024, `${answered} answered`);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_udp_kernel_drops_total', { socket: 'listener' }), 1024 - answered);
  });
});

test("a burst that overflows the upstream's own receive queue (Unbound's so-rcvbuf) is counted as socket=unbound, in the metric and in status", {
  skip: process.getuid?.() !== 0 && !inCI() ? 'needs CAP_NET_ADMIN (root) for SO_RCVBUFFORCE' : false,
}, async () => {
  await withFront(burstOptions(1024 * 1024), async ({ port, up, registry, front }) => {
    up.setUdpReceiveBuffer(4096); // the kernel keeps 8 KiB: a few of the forwarded queries fit
    assert.equal(await burst(port), 1024, 'every client answered (SERVFAIL: the upstream is silent)');
    const unbound = await metric(registry, 'unbound_sidecar_dns_front_udp_kernel_drops_total', { socket: 'unbound' });
    assert.ok(unbound > 0, 'drops at the upstream socket');
    assert.equal(unbound + up.ids.length, 1024, 'every forwarded query either reached the upstream or is counted as dropped there');
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_udp_kernel_drops_total', { socket: 'listener' }), 0);
    const udp = front.status().udp;
    assert.deepEqual(udp.kernelDrops, { listener: 0, upstream: 0, unbound });
    assert.ok((udp.receiveBufferBytes ?? 0) >= 2 * 1024 * 1024, `the smallest front socket buffer: ${udp.receiveBufferBytes}`);
    assert.equal(udp.receiveBufferCapped, false);
  });
});

test('insertion unavailable (set missing): answers go out at once, status and metrics say why', async () => {
  const learnAnswer: LearnAnswer = () =>
    Promise.resolve({ listed: 1, learned: 0, unchanged: 0, skipped: 0, failed: 0, held: 1, unavailable: 'set-sync: learned set inet t l4 is missing (create it, or set createSets)' });
  await withFront({ learnAnswer, config: { insertDeadlineMs: 1000 } }, async ({ port, registry, front }) => {
    const t0 = performance.now();
    const r = await udpExchange(port, buildQuery({ id: 1, name: 'listed.example', type: 1 }));
    assert.ok(r && ((r[3] as number) & 0x0f) === 0);
    assert.ok(performance.now() - t0 < 900, 'not held to the deadline');
    assert.equal(front.status().insertion.state, 'unavailable');
    assert.match(front.status().insertion.problem ?? '', /missing/);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_insert_unavailable_total', { reason: 'set-missing' }), 1);
  });
});

test('insertion failing (nftables refuses, e.g. no CAP_NET_ADMIN): relayed even with failClosed, status says so, recovers', async () => {
  let failing = true;
  const learnAnswer: LearnAnswer = () => Promise.resolve({ listed: 1, learned: failing ? 0 : 1, unchanged: 0, skipped: 0, failed: failing ? 1 : 0, held: 0, unavailable: undefined });
  await withFront({ learnAnswer, config: { failClosed: true } }, async ({ port, registry, front }) => {
    const r = await udpExchange(port, buildQuery({ id: 1, name: 'listed.example', type: 1 }));
    assert.ok(r && ((r[3] as number) & 0x0f) === 0, 'the answer, not SERVFAIL');
    assert.equal(front.status().insertion.state, 'failing');
    assert.match(front.status().insertion.problem ?? '', /CAP_NET_ADMIN/);
    assert.equal(await metric(registry, 'unbound_sidecar_dns_front_insert_unavailable_total', { reason: 'failed' }), 1);
    failing = false;
    await udpExchange(port, buildQuery({ id: 2, name: 'listed.example', type: 1 }));
    assert.equal(front.status().insertion.state, 'ok');
  });
});

test('while insertion is known to fail, a slow failing insertion does not hold answers (nor SERVFAIL them with failClosed)', async () => {
  const learnAnswer: LearnAnswer = () => new Promise((r) => setTimeout(() => r({ listed: 1, learned: 0, unchanged: 0, skipped: 0, failed: 1, held: 0, unavailable: undefined }), 1_000));
  await withFront({ learnAnswer, config: { failClosed: true, insertDeadlineMs: 5_000, upstreamTimeoutMs: 8_000 } }, async ({ port, front }) => {
    const first = await udpExchange(port, buildQuery({ id: 1, name: 'listed.example', type: 1 }), 6_000);
    assert.ok(first && ((first[3] as number) & 0x0f) === 0, 'the first waits for its (failing) insertion, then is relayed');
    assert.equal(front.status().insertion.state, 'failing');
    const t0 = performance.now();
    const second = await udpExchange(port, buildQuery({ id: 2, name: 'listed.example', type: 1 }), 6_000);
    assert.ok(second && ((second[3] as number) & 0x0f) === 0, 'relayed, not SERVFAIL');
    assert.ok(performance.now() - t0 < 900, `relayed without waiting for the 1 s insertion (${(performance.now() - t0).toFixed(0)} ms)`);
  });
});

test('garbage queries are answered FORMERR by the front and never take an in-flight slot from real clients', async () => {
  await withFront({ config: { maxInflight: 2 } }, async ({ port, up }) => {
    const bad: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const q = buildQuery({ id: i, name: 'x.example', type: 1 });
      if (i % 2 === 0)
        q.writeUInt16BE(0, 4); // QDCOUNT 0
      else q[12] = 0xc0; // a compression pointer in the question
      bad.push(q);
    }
    const replies = await Promise.all(bad.map((q) => udpExchange(port, q)));
    for (const r of replies) assert.equal(r === undefined ? -1 : (r[3] as number) & 0x0f, 1, 'FORMERR');
    assert.equal(up.ids.length, 0, 'none reached Unbound');
    const ok = await udpExchange(port, buildQuery({ id: 99, name: 'real.example', type: 1 }));
    assert.ok(ok && ((ok[3] as number) & 0x0f) === 0);
    const [t] = await tcpExchange(port, [bad[0] as Buffer]);
    assert.equal((t?.[3] as number) & 0x0f, 1, 'TCP too');
  });
});

test('TCP at maxTcpConnections: the longest-idle connection makes room for a newcomer', async () => {
  await withFront({ config: { maxTcpConnections: 2 } }, async ({ port, front }) => {
    const idle = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((r) => {
            const s = net.connect(port, '127.0.0.1', () => r(s));
            s.on('error', () => {});
          }),
      ),
    );
    const closed = Promise.race(idle.map((s) => new Promise<void>((r) => s.once('close', () => r()))));
    await new Promise((r) => setTimeout(r, 20));
    const [a] = await tcpExchange(port, [buildQuery({ id: 5, name: 'new.example', type: 1 })]);
    assert.ok(a && a.readUInt16BE(0) === 5, 'the newcomer is served');
    await closed;
    assert.ok(front.status().tcpConnections <= 2);
    for (const s of idle) s.destroy();
  });
});

test('IPv6: a client on ::1 is proxied as UDP over IPv6 with its own address and port', async () => {
  await withFront({ config: { listen: ['[::1]:0'] } }, async ({ port, up }) => {
    const sock = dgram.createSocket('udp6');
    await new Promise<void>((r) => sock.bind(0, '::1', () => r()));
    const reply = await new Promise<Buffer>((resolve) => {
      sock.once('message', (m) => resolve(m));
      sock.send(buildQuery({ id: 0x0606, name: 'v6.example', type: 28 }), port, '::1');
    });
    assert.equal(reply.readUInt16BE(0), 0x0606);
    assert.deepEqual(up.seen[0], { transport: 'udp', family: 0x22, src: '0:0:0:0:0:0:0:1', srcPort: sock.address().port, dst: '0:0:0:0:0:0:0:1', dstPort: port });
    sock.close();
  });
});
