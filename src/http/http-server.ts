import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SidecarError } from '../errors.js';
import { createHttpMetrics } from './metrics.js';

/** One health check: `ok` false makes /readyz answer 503 (liveness, /healthz, only needs the process). */
export interface ReadinessCheck {
  readonly name: string;
  check(): { ok: boolean; detail: string };
}

export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  readiness: readonly ReadinessCheck[];
}

export interface HttpServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): { host: string; port: number };
}

const KNOWN_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const metrics = createHttpMetrics(opts.registry);
  let server: Server | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (code: number, type: string, body: string): void => {
      metrics.requests.inc({ path: KNOWN_PATHS.has(path) ? path : 'other', code: String(code) });
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/metrics':
        return send(200, opts.registry.contentType, await opts.registry.metrics());
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz': {
        const results = opts.readiness.map((c) => ({ name: c.name, ...c.check() }));
        const ready = results.every((r) => r.ok);
        const body = results.map((r) => `${r.ok ? 'ok' : 'FAIL'} ${r.name}: ${r.detail}`).join('\n');
        return send(ready ? 200 : 503, 'text/plain', `${body}\n`);
      }
      default:
        return send(404, 'text/plain', 'not found: try /metrics, /healthz, /readyz\n');
    }
  }

  return {
    async start() {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          opts.logger.error({ err }, 'http: handler failed');
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err) =>
          reject(new SidecarError('LISTEN_FAILED', 'http', `cannot listen on ${opts.host}:${opts.port}: ${err.message} (is another process using the port? set metrics.listen or --metrics)`, { cause: err })),
        );
        s.listen(opts.port, opts.host, () => resolve());
      });
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    address() {
      const a = server?.address() as AddressInfo | null | undefined;
      return { host: a?.address ?? opts.host, port: a?.port ?? opts.port };
    },
  };
}
