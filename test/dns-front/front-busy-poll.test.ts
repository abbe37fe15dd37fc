import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsFront, dnsFrontConfigSchema, type DnsFront } from '../../src/dns-front/index.js';
import { mmsgUnavailable } from '../../src/lib/net/mmsg-vector.js';
import { buildQuery, udpExchange } from '../dns-server/dns-test-client.js';
import { startFakeUpstream } from './fake-upstream.js';

const logger = pino({ level: 'silent' });

/**
 * An upstream in another process (answering while the front's thread waits awake, which an
 * upstream on the test's own event loop cannot): each query back with QR set, at once.
 */
const ECHO = `
import { createSocket } from 'node:dgram';
const s = createSocket('udp4');
s.on('message', (m, r) => { m[2] |= 0x80; s.send(m, r.port, r.address); });
s.bind(0, '127.0.0.1', () => console.log(s.address().port));
`;

async function echoUpstream(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`echo upstream exited ${code}`)));
  });
  return { port, child };
}

async function busyPolls(registry: Registry): Promise<{ answered: number; expired: number }> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'unbound_sidecar_dns_front_busy_polls_total');
  const values = (m?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  const of = (outcome: string): number => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { answered: of('answered'), expired: of('expired') };
}

async function withFront(upstreamPort: number, busyPollMicros: number, fn: (port: number, registry: Registry) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const registry = new Registry();
  const config = dnsFrontConfigSchema.parse({ listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${upstreamPort}`, proxyProtocol: false, upstreamTimeoutMs: 300, busyPollMicros, ...extra });
  const front: DnsFront = createDnsFront({ config, learnAnswer: undefined, logger, registry });
  await front.start();
  try {
    await fn(front.addresses().udp[0]?.port ?? 0, registry);
  } finally {
    await front.stop();
  }
}

/** Lone queries, one at a time with the front idle in between; every answer checked. */
async function askAlone(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const r = await udpExchange(port, buildQuery({ id: 1000 + i, name: `alone-${i}.example`, type: 1 }), 2000);
    assert.ok(r, `query ${i} answered`);
    assert.equal(r.readUInt16BE(0), 1000 + i, 'the client ID restored');
    assert.ok(((r[2] as number) & 0x80) !== 0, 'an answer');
  }
}

test('busy poll: a lone query is answered while the front waits awake (counted), and never with busyPollMicros 0', { skip: mmsgUnavailable() }, async () => {
  const up = await echoUpstream();
  try {
    await withFront(up.port, 5000, async (port, registry) => {
      await askAlone(port, 20);
      const c = await busyPolls(registry);
      assert.equal(c.answered + c.expired, 20, 'each lone query waited for awake once');
      assert.ok(c.answered > 0, `answers caught awake: ${JSON.stringify(c)}`);
    });
    await withFront(up.port, 0, async (port, registry) => {
      await askAlone(port, 5);
      assert.deepEqual(await busyPolls(registry), { answered: 0, expired: 0 }, 'off: the answer comes through the event loop');
    });
    await withFront(
      up.port,
      5000,
      async (port, registry) => {
        await askAlone(port, 5);
        assert.deepEqual(await busyPolls(registry), { answered: 0, expired: 0 }, 'udpBatching off: no fast path to read with, so no wait');
      },
      { udpBatching: false },
    );
  } finally {
    up.child.kill();
  }
});

test('busy poll: an upstream slower than busyPollMicros — the wait ends at the bound, counted expired, and the answer still comes', { skip: mmsgUnavailable() }, async () => {
  // The fake upstream runs on this event loop: it cannot answer while the front waits awake.
  const up = await startFakeUpstream(() => 'answer', false);
  try {
    await withFront(up.port, 2000, async (port, registry) => {
      const t0 = performance.now();
      await askAlone(port, 3);
      assert.deepEqual(await busyPolls(registry), { answered: 0, expired: 3 });
      assert.ok(performance.now() - t0 < 1000, 'answered at once after the wait, not at a timeout');
    });
  } finally {
    await up.close();
  }
});
