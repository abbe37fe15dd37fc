/**
 * Child process for connection-cap.test.ts, started under a low RLIMIT_NOFILE: the HTTP listener
 * and a DNS front in one process, as in the daemon, so the test can see whether idle HTTP
 * connections leave descriptors for DNS over TCP. Reports both ports, then answers `fds` over IPC.
 */
import { readdirSync } from 'node:fs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsServer } from '../../src/dns-server/index.js';
import { createHttpServer } from '../../src/http/index.js';

const logger = pino({ level: 'silent' });
const registry = new Registry();
const dns = createDnsServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  zones: ['local.'],
  negativeTtl: 30,
  tcpIdleTimeoutMs: 10_000,
  maxTcpConnections: 64,
  udpHandoffMs: 25,
  logger,
  registry,
  resolve: async () => ({ kind: 'nxdomain' }),
});
const http = createHttpServer({ host: '127.0.0.1', port: 0, registry, logger, readiness: [] });
await dns.start();
await http.start();
process.send?.({ dns: dns.addresses().tcp[0]?.port, http: http.address().port });
process.on('message', (m) => {
  if (m === 'fds') process.send?.({ fds: readdirSync('/proc/self/fd').length });
});
process.on('disconnect', () => process.exit(0));
