import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';

/** `openConnections` is read when scraped. */
export function createHttpMetrics(registry: Registry, openConnections: () => number) {
  const m = capabilityMetrics(registry, 'http');
  const closed = m.counter({
    name: 'connections_closed_total',
    help: 'HTTP connections the server closed to stay under metrics.maxConnections: evicted (the longest-idle one, for a newcomer) or refused (every connection busy).',
    labelNames: ['reason'] as const,
  });
  for (const reason of ['evicted', 'refused'] as const) closed.inc({ reason }, 0);
  return {
    requests: m.counter({
      name: 'requests_total',
      help: 'HTTP requests to the metrics listener by path and status code.',
      labelNames: ['path', 'code'] as const,
    }),
    closed,
    connections: m.gauge({
      name: 'connections',
      help: 'Open connections to the HTTP listener.',
      collect() {
        this.set(openConnections());
      },
    }),
  };
}
