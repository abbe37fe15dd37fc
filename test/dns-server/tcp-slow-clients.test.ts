import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { ZoneAnswer } from '../../src/lib/dns-wire/types.js';
import { a, buildQuery, decode, startServer, tcpExchange } from './dns-test-client.js';

/**
 * Slow-loris clients on DNS over TCP (RFC 7766 §6.2.3/§6.2.4): connections that trickle bytes of
 * a message that never completes must neither keep their slot nor lock out a client that sends
 * whole messages, as Unbound does.
 */

const resolve = async (q: { name: string; type: number }): Promise<ZoneAnswer> =>
  q.name.toLowerCase() === 'printer.local.' ? { kind: 'answer', records: [{ name: q.name, type: 1, class: 1, ttl: 120, data: a('10.77.0.5') }] } : { kind: 'nxdomain' };

/** A connection that sends the first byte of a length prefix, then one zero byte every `everyMs`. */
function trickler(port: number, everyMs: number): { sock: net.Socket; closed: Promise<number>; stop(): void } {
  const t0 = performance.now();
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  sock.on('error', () => {});
  // 0xff 0xff: a 65535-byte message announced, never delivered.
  sock.on('connect', () => sock.write(Buffer.from([0xff])));
  const timer = setInterval(() => {
    if (!sock.destroyed) sock.write(Buffer.from([0]));
  }, everyMs);
  const closed = new Promise<number>((res) => sock.on('close', () => res(performance.now() - t0)));
  return { sock, closed, stop: () => (clearInterval(timer), sock.destroy()) };
}

async function counter(registry: import('prom-client').Registry, reason: string): Promise<number> {
  const m = await registry.getSingleMetric('unbound_sidecar_dns_tcp_connections_closed_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

test('TCP: a message trickled byte by byte is cut off at tcpMessageTimeoutMs, whatever the idle timeout', async () => {
  const s = await startServer({ resolve, tcpIdleTimeoutMs: 30_000, tcpMessageTimeoutMs: 300, maxTcpConnections: 8 });
  const t = trickler(s.port, 50);
  try {
    const ms = await Promise.race([t.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 250 && ms < 1500, `closed after ${ms.toFixed(0)} ms (deadline 300 ms, a byte every 50 ms)`);
    assert.equal(await counter(s.registry, 'message-timeout'), 1);
  } finally {
    t.stop();
    await s.server.stop();
  }
});

test('TCP: bytes of an unfinished message do not extend the idle timeout either', async () => {
  // Message deadline far away: only the idle rule can close it, measured from the last whole message.
  const s = await startServer({ resolve, tcpIdleTimeoutMs: 400, tcpMessageTimeoutMs: 60_000, maxTcpConnections: 8 });
  const t = trickler(s.port, 50);
  try {
    const ms = await Promise.race([t.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 350 && ms < 1500, `closed after ${ms.toFixed(0)} ms (idle 400 ms)`);
    assert.equal(await counter(s.registry, 'idle-timeout'), 1);
  } finally {
    t.stop();
    await s.server.stop();
  }
});

test('TCP: with every slot held by slow-loris clients, a client sending whole messages still gets answers', async () => {
  const cap = 32;
  // Deadlines far away: only eviction at the cap can let the real client in during this test.
  const s = await startServer({ resolve, tcpIdleTimeoutMs: 30_000, tcpMessageTimeoutMs: 30_000, maxTcpConnections: cap });
  const lorises = Array.from({ length: cap * 2 }, () => trickler(s.port, 200));
  try {
    await new Promise((r) => setTimeout(r, 300));
    let answered = 0;
    for (let i = 0; i < 20; i++) {
      // A new connection per question, as a resolver opens them; each must be answered at once.
      const [reply] = await tcpExchange(s.port, [buildQuery({ id: i, name: 'printer.local', type: 1 })], 1, 1000);
      assert.ok(reply);
      const msg = decode(reply);
      assert.equal(msg.header.id, i);
      assert.equal(msg.answers[0]?.address, '10.77.0.5');
      answered++;
    }
    assert.equal(answered, 20);
    const open = (await s.registry.getSingleMetric('unbound_sidecar_dns_tcp_connections')?.get())?.values[0]?.value ?? 0;
    assert.ok(open <= cap, `cap holds (${open})`);
    assert.ok((await counter(s.registry, 'evicted')) >= 20, 'slow clients were evicted to make room');
  } finally {
    for (const l of lorises) l.stop();
    await s.server.stop();
  }
});

test('TCP: a connection waiting for an answer is never evicted; at a cap of such, the newcomer is refused', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const slow = async (q: { name: string; type: number }): Promise<ZoneAnswer> => {
    if (q.name.toLowerCase() === 'slow.local.') await gate;
    return resolve(q);
  };
  const s = await startServer({ resolve: slow, tcpIdleTimeoutMs: 30_000, maxTcpConnections: 2 });
  try {
    const waiting = [1, 2].map((id) => tcpExchange(s.port, [buildQuery({ id, name: 'slow.local', type: 1 })], 1, 3000));
    for (const w of waiting) w.catch(() => {}); // awaited below; a failure must not outlive the test
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(tcpExchange(s.port, [buildQuery({ id: 3, name: 'printer.local', type: 1 })], 1, 1000));
    assert.equal(await counter(s.registry, 'refused'), 1);
    release();
    const replies = await Promise.all(waiting);
    assert.deepEqual(
      replies.map((r) => r[0] && decode(r[0]).header.rcode),
      [3, 3],
    );
  } finally {
    release();
    await s.server.stop();
  }
});
