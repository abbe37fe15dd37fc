import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/**
 * A real node:http server on 127.0.0.1 (port 0) whose routes are swapped by the test. Sockets are
 * tracked so a route that hangs on purpose cannot keep the test process alive.
 */
export type Route = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

export interface FixtureServer {
  url(path: string): string;
  route(path: string, handler: Route): void;
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startFixtureServer(): Promise<FixtureServer> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404).end('no route');
      return;
    }
    handler(req, res, n);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    route: (path, handler) => void routes.set(path, handler),
    hits: (path) => counts.get(path) ?? 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Respond 200 with a body, honouring If-None-Match against `etag` (304 when it matches). */
export function serveBody(body: string | Buffer, opts: { etag?: string; headers?: Record<string, string> } = {}): Route {
  return (req, res) => {
    if (opts.etag !== undefined && req.headers['if-none-match'] === opts.etag) {
      res.writeHead(304, { etag: opts.etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...(opts.etag !== undefined ? { etag: opts.etag } : {}), ...opts.headers });
    res.end(body);
  };
}

/**
 * A gzip bomb: 16 gzip members of 64 MiB of zeros (1 GiB decoded, ~1 MB) gzipped once more and sent
 * as `Content-Encoding: gzip, gzip` — about 2.5 KB on the wire. Built in ~0.2 s, cached.
 */
let bomb: Buffer | undefined;
export function gzipBomb(): { body: Buffer; headers: Record<string, string> } {
  if (!bomb) {
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    bomb = gzipSync(Buffer.concat(Array.from({ length: 16 }, () => member)), { level: 9 });
  }
  return { body: bomb, headers: { 'content-encoding': 'gzip, gzip' } };
}
