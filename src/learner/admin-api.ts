import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorMessage, SidecarError } from '../errors.js';
import type { LearnedSets } from '../set-sync/learned-sets.js';
import { saveAdditions, type LearnedStore } from './learned-store.js';
import { normaliseName, type ListMatchers } from './list-matchers.js';
import { lookup } from './lookup.js';

/**
 * The local admin API (issue #4 item 5): JSON over HTTP on a unix socket with mode 0600, so only
 * root (the CLI run by the operator) can edit routing — it replaces the plugin's "magic query with
 * a token", which anyone on the LAN who learned the token could send.
 *
 *   GET  /v1/domains?list=L        {list, added[], registry}
 *   POST /v1/domains {op, list, name}   op = add | remove; additions persist and resolve at once
 *   GET  /v1/lookup?q=NAME|IP      see lookup.ts
 */
export type AdminEvent = { kind: 'domain-added' | 'domain-removed'; list: string; name: string };

export interface AdminApi {
  readonly socketPath: string;
  close(): Promise<void>;
}

const editSchema = z.object({ op: z.enum(['add', 'remove']), list: z.string().min(1), name: z.string().min(1).max(300) }).strict();
const MAX_BODY = 16 * 1024;

export async function startAdminApi(opts: {
  socketPath: string;
  matchers: ListMatchers;
  store: LearnedStore;
  learnedSets: LearnedSets;
  stateDir: string;
  additions: Map<string, Set<string>>;
  logger: Logger;
  onChange: (list: string, added: readonly string[]) => void;
  onEvent?: (e: AdminEvent) => void;
}): Promise<AdminApi> {
  const { socketPath: path, matchers, additions, logger } = opts;
  /** Edits are serialised so two `add`s cannot interleave their file writes. */
  let edits: Promise<unknown> = Promise.resolve();

  async function edit(body: z.infer<typeof editSchema>): Promise<[number, unknown]> {
    const set = additions.get(body.list);
    if (!set) return [404, { error: `no list named "${body.list}"; configured: ${[...additions.keys()].join(', ')}` }];
    const name = normaliseName(body.name);
    if (name === undefined) return [400, { error: `"${body.name}" is not a domain name (a bare TLD is refused)` }];
    if (body.op === 'add') {
      if (set.has(name)) return [200, { list: body.list, name, changed: false }];
      set.add(name);
    } else if (!set.delete(name)) {
      const inRegistry = matchers.get(body.list)?.registry.match(name) === name;
      return [inRegistry ? 409 : 404, { error: inRegistry ? `"${name}" comes from the registry; only runtime additions can be removed` : `"${name}" is not a runtime addition of "${body.list}"` }];
    }
    await saveAdditions(opts.stateDir, additions);
    matchers.setAdditions(body.list, set);
    opts.onChange(body.list, body.op === 'add' ? [name] : []);
    const e: AdminEvent = { kind: body.op === 'add' ? 'domain-added' : 'domain-removed', list: body.list, name };
    opts.onEvent?.(e);
    logger.info(e, `learner: domain ${body.op === 'add' ? 'added to' : 'removed from'} ${body.list}`);
    return [200, { list: body.list, name, changed: true }];
  }

  async function route(req: IncomingMessage): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname === '/v1/lookup' && req.method === 'GET') {
      const r = lookup(url.searchParams.get('q') ?? '', opts);
      return [r.kind === 'invalid' ? 400 : 200, r];
    }
    if (url.pathname === '/v1/domains' && req.method === 'GET') {
      const list = url.searchParams.get('list') ?? '';
      const set = additions.get(list);
      if (!set) return [404, { error: `no list named "${list}"; configured: ${[...additions.keys()].join(', ')}` }];
      return [200, { list, added: [...set].sort(), registry: matchers.get(list)?.domains.length ?? 0 }];
    }
    if (url.pathname === '/v1/domains' && req.method === 'POST') {
      const parsed = editSchema.safeParse(await readJson(req));
      if (!parsed.success) return [400, { error: `expected {"op":"add"|"remove","list":…,"name":…}: ${parsed.error.issues[0]?.message ?? 'invalid'}` }];
      const run = edits.then(() => edit(parsed.data));
      edits = run.catch(() => undefined);
      return run;
    }
    return [404, { error: `no route ${req.method ?? ''} ${url.pathname}` }];
  }

  const server = createServer((req, res) => {
    route(req).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => send(res, err instanceof BodyError ? 400 : 500, { error: errorMessage(err) }),
    );
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isSocket()) throw new SidecarError('LISTEN_FAILED', 'learner', `${path} exists and is not a socket; refusing to replace it`);
  if (st) await unlink(path);
  // umask first-hand: the socket must never exist with a wider mode, even for the chmod's duration.
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new SidecarError('LISTEN_FAILED', 'learner', `admin socket ${path}: ${err.message}`, { cause: err })));
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  await chmod(path, 0o600);
  return {
    socketPath: path,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await unlink(path).catch(() => undefined);
    },
  };
}

class BodyError extends Error {}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new BodyError('body too large');
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new BodyError('body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
