import { Counter, type Registry } from 'prom-client';

export function createHttpMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'unbound_sidecar_http_requests_total',
      help: 'HTTP requests to the metrics listener by path and status code.',
      labelNames: ['path', 'code'] as const,
      registers: [registry],
    }),
  };
}
