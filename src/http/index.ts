/** http: /metrics (Prometheus), /healthz, /readyz, the status page (/, /api/status) and /api/lookup on `metrics.listen`. */
export { createHttpServer } from './http-server.js';
export type { HttpServer, HttpServerOptions } from './http-server.js';
export type { Readiness, ReadinessCheck } from '../lib/component/index.js';
export { httpConfigSchema, type HttpConfig } from './config.js';
export {
  assessStatus,
  buildStatusSnapshot,
  formatAge,
  statusSnapshotSchema,
  STALE_FACTOR,
  type Assessment,
  type ListStatus,
  type ListStatusInput,
  type LookupMatch,
  type LookupProvider,
  type LookupResult,
  type RecentError,
  type SetStatus,
  type StatusInputs,
  type StatusProvider,
  type StatusSnapshot,
} from './status.js';
export { createRecentErrors, type RecentErrors } from './recent-errors.js';
