import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsFront, dnsFrontConfigSchema } from '../../src/dns-front/index.js';
import { buildQuery, tcpExchange, udpExchange } from '../dns-server/dns-test-client.js';
import { startFakeUpstream } from './fake-upstream.js';

/**
 * The front's start with a listen address no interface holds (192.0.2.1, TEST-NET-1, RFC 5737: on
 * no host's interfaces, so bind(2) says EADDRNOTAVAIL). The address appearing later is in
 * test/integration/front-late-address.test.ts (a namespace where the test adds it).
 */

test('a listen address not on any interface: the front starts, serves the others, reports it as not bound; stop() cancels the retry', async () => {
  const up = await startFakeUpstream();
  const config = dnsFrontConfigSchema.parse({ listen: ['127.0.0.1:0', '192.0.2.1:0'], upstream: `127.0.0.1:${up.port}`, upstreamTimeoutMs: 300 });
  const front = createDnsFront({ config, learnAnswer: undefined, logger: pino({ level: 'silent' }), registry: new Registry() });
  try {
    await front.start();
    assert.deepEqual(front.status().notBound, ['192.0.2.1:0']);
    assert.deepEqual(
      front.addresses().udp.map((a) => a.host),
      ['127.0.0.1'],
    );
    const port = front.addresses().udp[0]?.port ?? 0;
    const r = await udpExchange(port, buildQuery({ id: 9, name: 'a.example', type: 1 }));
    assert.equal(r?.readUInt16BE(0), 9, 'answered on the address that is there');
    const [t] = await tcpExchange(port, [buildQuery({ id: 10, name: 'a.example', type: 1 })]);
    assert.equal(t?.readUInt16BE(0), 10);
  } finally {
    await front.stop();
    await up.close();
  }
  // Nothing left retrying (listen-retry.test.ts checks that no attempt follows a stop).
  assert.deepEqual(front.status().notBound, []);
});

test('a setup mistake (port in use) still refuses the start with LISTEN_FAILED', async () => {
  const up = await startFakeUpstream();
  const config = dnsFrontConfigSchema.parse({ listen: [`127.0.0.1:${up.port}`], upstream: `127.0.0.1:${up.port}` });
  const front = createDnsFront({ config, learnAnswer: undefined, logger: pino({ level: 'silent' }), registry: new Registry() });
  try {
    await assert.rejects(front.start(), (err: Error & { code?: string }) => err.code === 'LISTEN_FAILED' && /EADDRINUSE/.test(err.message));
  } finally {
    await front.stop();
    await up.close();
  }
});
