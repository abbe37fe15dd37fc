/** http: /metrics (Prometheus), /healthz (liveness), /readyz (readiness) on `metrics.listen`. */
export { createHttpServer } from './http-server.js';
export type { HttpServer, HttpServerOptions, ReadinessCheck } from './http-server.js';
export { httpConfigSchema, type HttpConfig } from './config.js';
