/**
 * Child process for hostile.test.ts: a DNS front on 127.0.0.1:0 with a fake zone, so the test can
 * tell "the process died" apart from "the test failed". Reports its port, then answers status
 * requests (event-loop delay, memory, TCP connections) over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsServer } from '../../src/dns-server/index.js';
import type { ZoneAnswer } from '../../src/lib/dns-wire/types.js';

const registry = new Registry();
const server = createDnsServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  zones: ['local.'],
  negativeTtl: 30,
  tcpIdleTimeoutMs: 500,
  maxTcpConnections: 64,
  udpHandoffMs: 25,
  logger: pino({ level: 'silent' }),
  registry,
  resolve: async (q): Promise<ZoneAnswer> => {
    const name = q.name.toLowerCase();
    if (name === 'printer.local.' && q.type === 1) {
      return { kind: 'answer', records: [{ name: q.name, type: 1, class: 1, ttl: 120, data: Uint8Array.from([10, 0, 0, 5]) }] };
    }
    if (name === 'hang.local.') return new Promise<ZoneAnswer>(() => {});
    return { kind: 'nxdomain' };
  },
});

const delay = monitorEventLoopDelay({ resolution: 10 });
await server.start();
delay.enable();
const send = (m: unknown) => process.send?.(m);
send({ port: server.addresses().udp[0]?.port });
process.on('message', async (m) => {
  if (m === 'status') {
    const metrics = await registry.getMetricsAsJSON();
    const total = (name: string) => metrics.find((x) => x.name === name)?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    send({
      maxDelayMs: delay.max / 1e6,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      tcp: total('unbound_sidecar_dns_tcp_connections'),
      seen: total('unbound_sidecar_dns_requests_total') + total('unbound_sidecar_dns_malformed_total'),
    });
    delay.reset();
  } else if (m === 'stop') {
    await server.stop();
    process.exit(0);
  }
});
