import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import type { ZoneAnswer } from '../../src/lib/dns-wire/types.js';
import { UdpHandoff } from '../../src/dns-server/udp-handoff.js';
import { a, buildQuery, decode, startServer, tcpExchange, udpExchange } from './dns-test-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `slow.local` answers after 150 ms; everything else at once. */
async function slowResolve(q: { name: string; type: number }): Promise<ZoneAnswer> {
  const name = q.name.toLowerCase();
  if (name === 'slow.local.') await sleep(150);
  if (name === 'slow.local.' || name === 'fast.local.') {
    return { kind: 'answer', records: [{ name: q.name, type: 1, class: 1, ttl: 60, data: a('10.77.0.9') }] };
  }
  return { kind: 'nxdomain' };
}

/** Every datagram that comes back to one socket within `windowMs`, with its arrival time. */
function udpCollect(port: number, msg: Buffer, windowMs: number): Promise<{ ms: number; data: Buffer }[]> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const got: { ms: number; data: Buffer }[] = [];
    const t0 = performance.now();
    sock.on('message', (data) => got.push({ ms: performance.now() - t0, data }));
    setTimeout(() => {
      sock.close();
      resolve(got);
    }, windowMs);
    sock.send(msg, port, '127.0.0.1');
  });
}

test('UdpHandoff fires only unsettled entries, in order, after the delay; stop() cancels', async () => {
  const h = new UdpHandoff(20);
  const fired: number[] = [];
  const firedAfter: number[] = [];
  const t0 = performance.now();
  const slots = Array.from({ length: 5000 }, (_, i) =>
    h.add(() => {
      fired.push(i);
      firedAfter.push(performance.now() - t0);
    }),
  );
  slots.forEach((s, i) => {
    if (i % 1000 !== 7) s.settled = true;
  });
  // Timing is checked where each one fires, not by sleeping: on a loaded machine a 5 ms sleep can
  // last longer than the 20 ms delay.
  for (let waited = 0; fired.length < 5 && waited < 2_000; waited += 10) await sleep(10);
  assert.deepEqual(fired, [7, 1007, 2007, 3007, 4007]);
  for (const ms of firedAfter) assert.ok(ms >= 18, `fired after ${ms.toFixed(1)} ms, before the 20 ms delay`);
  await sleep(30);
  assert.deepEqual(fired, [7, 1007, 2007, 3007, 4007], 'settled entries never fire');
  assert.equal(h.size(), 0, 'swept');
  const late = h.add(() => fired.push(-1));
  h.stop();
  await sleep(40);
  assert.equal(fired.includes(-1), false, 'stopped: nothing fires');
  assert.equal(late.settled, false);
  assert.equal(h.add(() => fired.push(-2)).settled, true, 'after stop, new slots are born settled');
});

test('a UDP question still unanswered after udpHandoffMs gets TC=1 (no records, OPT kept) and nothing after; TCP gets the answer', async () => {
  const { server, port, registry } = await startServer({ resolve: slowResolve, udpHandoffMs: 25 });
  try {
    const q = buildQuery({ id: 0x4242, name: 'SlOw.local', type: 1, edns: { udpSize: 1232 } });
    const replies = await udpCollect(port, q, 400);
    assert.equal(replies.length, 1, 'exactly one UDP reply: the hand-off, not the late answer too');
    const [only] = replies;
    assert.ok(only);
    assert.ok(only.ms >= 20 && only.ms < 140, `hand-off after ~25 ms, before the 150 ms answer (${only.ms.toFixed(1)} ms)`);
    const msg = decode(only.data);
    assert.deepEqual([msg.header.id, msg.header.qr, msg.header.tc, msg.header.rcode, msg.answers.length], [0x4242, 1, 1, 0, 0]);
    assert.deepEqual([msg.header.aa, msg.header.ra], [1, 0], 'AA like every answer from our zone, RA never');
    assert.deepEqual(only.data.subarray(12, 12 + 15), q.subarray(12, 12 + 15), 'question echoed byte for byte');
    assert.equal(msg.additionals.length, 1, 'OPT in the truncated reply (RFC 6891 §7)');

    const [viaTcp] = await tcpExchange(port, [buildQuery({ name: 'slow.local', type: 1 })]);
    assert.ok(viaTcp);
    assert.equal(decode(viaTcp).answers[0]?.address, '10.77.0.9', 'TCP waits for the slow answer');

    for (let i = 0; i < 100; i++) {
      const raw = await udpExchange(port, buildQuery({ name: 'fast.local', type: 1 }));
      assert.ok(raw);
      assert.equal(decode(raw).header.tc, 0, 'quick answers are never handed off');
    }
    const metrics = await registry.metrics();
    assert.match(metrics, /unbound_sidecar_dns_udp_handoffs_total\{zone="local\.",qtype="A"\} 1\n/);
  } finally {
    await server.stop();
  }
});

test('udpHandoffMs 0: the slow answer comes over UDP', async () => {
  const { server, port } = await startServer({ resolve: slowResolve, udpHandoffMs: 0 });
  try {
    const replies = await udpCollect(port, buildQuery({ name: 'slow.local', type: 1 }), 400);
    assert.equal(replies.length, 1);
    const msg = decode(replies[0]!.data);
    assert.deepEqual([msg.header.tc, msg.answers[0]?.address], [0, '10.77.0.9']);
    assert.ok(replies[0]!.ms >= 140);
  } finally {
    await server.stop();
  }
});
