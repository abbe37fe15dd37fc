import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SidecarError } from '../errors.js';
import type { Readiness, ReadinessCheck } from '../lib/component/index.js';
import { formatHostPort } from '../lib/net/host-port.js';
import { listenHint } from '../lib/net/listen-hint.js';
import { HTTP_LIMITS } from './config.js';
import { guardConnections, type ConnectionGuard } from './connection-guard.js';
import { createHttpMetrics } from './metrics.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from './status-page.js';
import { assessStatus, type LookupProvider, type StatusProvider } from './status.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** /readyz runs each (the daemon's come from its components); one `not-ready` makes it 503. /healthz only needs the process. */
  readiness: readonly ReadinessCheck[];
  /** Serves `/` (the status page) and `/api/status`; without it both answer 404. */
  status?: StatusProvider;
  /** Backs `/api/lookup?q=`; without it the endpoint answers 501 and the page says "lookup not available". */
  lookup?: LookupProvider;
  /** `metrics.maxConnections` (default 64): at the cap the longest-idle connection is closed for a newcomer. */
  maxConnections?: number;
}

export interface HttpServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): { host: string; port: number };
}

const KNOWN_PATHS = new Set(['/metrics', '/healthz', '/readyz', '/', '/api/status', '/api/lookup']);
const JSON_TYPE = 'application/json; charset=utf-8';
/** A DNS name is ≤ 253 characters; anything longer is refused before it reaches the provider. */
const MAX_QUERY = 253;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  let server: Server | undefined;
  let guard: ConnectionGuard | undefined;
  const metrics = createHttpMetrics(opts.registry, () => guard?.open() ?? 0);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Split by hand rather than `new URL(req.url, base)`: a target like `//host/x` would become a host.
    const target = req.url ?? '/';
    const qmark = target.indexOf('?');
    const path = qmark < 0 ? target : target.slice(0, qmark);
    const params = new URLSearchParams(qmark < 0 ? '' : target.slice(qmark + 1));
    const send = (code: number, type: string, body: string, headers: Readonly<Record<string, string>> = {}): void => {
      metrics.requests.inc({ path: KNOWN_PATHS.has(path) ? path : 'other', code: String(code) });
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    const json = (code: number, body: unknown): void => send(code, JSON_TYPE, `${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/metrics':
        return send(200, opts.registry.contentType, await opts.registry.metrics());
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz': {
        const results = opts.readiness.map((c) => ({ name: c.name, result: c.check() }));
        const ready = results.every((r) => r.result.kind === 'ready');
        const body = results.map((r) => readinessLine(r.name, r.result)).join('\n');
        return send(ready ? 200 : 503, 'text/plain', `${body}\n`);
      }
      case '/':
        if (!opts.status) break;
        return send(200, 'text/html; charset=utf-8', STATUS_PAGE_HTML, STATUS_PAGE_HEADERS);
      case '/api/status': {
        if (!opts.status) break;
        const snapshot = { ...opts.status(), lookup: opts.lookup !== undefined };
        return json(200, { ...snapshot, assessment: assessStatus(snapshot) });
      }
      case '/api/lookup': {
        const q = (params.get('q') ?? '').trim();
        if (!opts.lookup) return json(501, { error: 'lookup not available: no list has "learn", so this daemon runs no learner' });
        if (q === '' || q.length > MAX_QUERY) return json(400, { error: `expected ?q=<domain or IP address> of at most ${MAX_QUERY} characters` });
        // The provider decides what is a name (the learner normalises IDNs to punycode, the same
        // function `unbound-sidecar lookup` goes through); a second, stricter check here called
        // `пример.рф` invalid while the CLI answered it.
        try {
          return json(200, await opts.lookup(q));
        } catch (err) {
          opts.logger.warn({ err, q }, 'http: lookup failed');
          return json(500, { error: 'lookup failed (see the daemon log)' });
        }
      }
      default:
        break;
    }
    return send(404, 'text/plain', `not found: try ${opts.status ? '/, /api/status, /api/lookup?q=, ' : ''}/metrics, /healthz, /readyz\n`);
  }

  return {
    async start() {
      const handler = (req: IncomingMessage, res: ServerResponse): void => {
        handle(req, res).catch((err: unknown) => {
          opts.logger.error({ err }, 'http: handler failed');
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      };
      server = createServer(
        {
          headersTimeout: HTTP_LIMITS.headersTimeoutMs,
          requestTimeout: HTTP_LIMITS.requestTimeoutMs,
          keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
          // How often node checks headersTimeout/requestTimeout (default 30 s, which let a header
          // trickler hold its socket three times longer than headersTimeout says).
          connectionsCheckingInterval: 1_000,
        },
        handler,
      );
      // Socket inactivity; without a 'timeout' listener node's http server destroys the socket.
      server.timeout = HTTP_LIMITS.idleTimeoutMs;
      guard = guardConnections(server, opts.maxConnections ?? HTTP_LIMITS.maxConnections, (reason) => metrics.closed.inc({ reason }));
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err) => reject(listenFailed(opts.host, opts.port, err)));
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

/** `ok dns: listening on …` / `FAIL mdns: avahi down …`: the text operators and scripts read. */
function readinessLine(name: string, r: Readiness): string {
  switch (r.kind) {
    case 'ready':
      return `ok ${name}: ${r.detail}`;
    case 'not-ready':
      return `FAIL ${name}: ${r.detail}`;
    default: {
      const never: never = r;
      return never;
    }
  }
}

function listenFailed(host: string, port: number, err: Error): SidecarError {
  const hint = listenHint(err, { port, setting: 'metrics.listen / --metrics', unprivilegedPort: 9335 });
  return new SidecarError('LISTEN_FAILED', 'http', `cannot listen on ${formatHostPort(host, port)}: ${err.message}; ${hint}`, { cause: err });
}
