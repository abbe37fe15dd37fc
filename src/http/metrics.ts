import { Counter, Gauge, type Registry } from 'prom-client';

/** `openConnections` is read when scraped. */
export function createHttpMetrics(registry: Registry, openConnections: () => number) {
  const closed = new Counter({
    name: 'unbound_sidecar_http_connections_closed_total',
    help: 'HTTP connections the server closed to stay under metrics.maxConnections: evicted (the longest-idle one, for a newcomer) or refused (every connection busy).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['evicted', 'refused'] as const) closed.inc({ reason }, 0);
  return {
    requests: new Counter({
      name: 'unbound_sidecar_http_requests_total',
      help: 'HTTP requests to the metrics listener by path and status code.',
      labelNames: ['path', 'code'] as const,
      registers: [registry],
    }),
    closed,
    connections: new Gauge({
      name: 'unbound_sidecar_http_connections',
      help: 'Open connections to the HTTP listener.',
      registers: [registry],
      collect() {
        this.set(openConnections());
      },
    }),
  };
}
