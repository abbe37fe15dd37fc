import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseHostPort } from './config/common.js';
import type { Config } from './config/schema.js';
import { createDnsServer, type DnsServer } from './dns-server/index.js';
import { createHttpServer, type HttpServer } from './http/index.js';
import { createLocalNames, type LocalNamesService } from './local-names/index.js';

/** Wiring only: config → components → start/stop. Pipelines meet here and nowhere else. */
export interface Daemon {
  readonly registry: Registry;
  dnsAddresses(): ReturnType<DnsServer['addresses']>;
  httpAddress(): ReturnType<HttpServer['address']>;
  stop(): Promise<void>;
}

function hostPorts(list: readonly string[]): { host: string; port: number }[] {
  // The schema already validated every entry; a miss here is a bug.
  return list.map((s) => {
    const hp = parseHostPort(s);
    if (!hp) throw new Error(`unvalidated listen address ${s}`);
    return hp;
  });
}

export async function startDaemon(config: Config, logger: Logger): Promise<Daemon> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'unbound_sidecar_' });
  // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for counters
  // (the metric-name lint test fails on them); the same numbers are in the non-`_total` twins.
  for (const name of ['nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total']) {
    registry.removeSingleMetric(`unbound_sidecar_${name}`);
  }

  let listening = false;
  const localNames: LocalNamesService = await createLocalNames({
    config: config.mdns,
    logger: logger.child({ capability: 'local-names' }),
    registry,
  });

  const dns = createDnsServer({
    listen: hostPorts(config.dns.listen),
    zones: config.dns.zones,
    negativeTtl: config.dns.negativeTtl,
    tcpIdleTimeoutMs: config.dns.tcpIdleTimeoutMs,
    maxTcpConnections: config.dns.maxTcpConnections,
    resolve: (question, _zone, signal) => localNames.resolve(question, signal),
    logger: logger.child({ capability: 'dns-server' }),
    registry,
  });

  const [metricsAddr] = hostPorts([config.metrics.listen]);
  const http = createHttpServer({
    host: metricsAddr?.host ?? '127.0.0.1',
    port: metricsAddr?.port ?? 9335,
    registry,
    logger: logger.child({ capability: 'http' }),
    readiness: [
      { name: 'dns', check: () => ({ ok: listening, detail: listening ? `listening on ${config.dns.listen.join(', ')}` : 'not listening yet' }) },
      {
        name: 'mdns',
        check: () => {
          const s = localNames.status();
          return { ok: s.up, detail: `${s.backend} ${s.up ? 'up' : 'down (answers are SERVFAIL until it returns)'}` };
        },
      },
    ],
  });

  try {
    await http.start();
    await dns.start();
  } catch (err) {
    await Promise.allSettled([dns.stop(), http.stop(), localNames.close()]);
    throw err;
  }
  listening = true;
  logger.info({ dns: dns.addresses(), metrics: http.address(), zones: config.dns.zones, backend: localNames.status() }, 'unbound-sidecar ready');

  return {
    registry,
    dnsAddresses: () => dns.addresses(),
    httpAddress: () => http.address(),
    async stop() {
      listening = false;
      await dns.stop();
      await Promise.allSettled([http.stop(), localNames.close()]);
    },
  };
}
