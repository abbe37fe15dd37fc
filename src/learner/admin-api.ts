import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorMessage, SidecarError } from '../errors.js';
import { SerialQueue } from '../lib/concurrency/index.js';
import { normaliseDomain } from '../lib/domain-match/index.js';
import { DOMAINS_FILE, saveAdditions, type LearnedStore } from './learned-store.js';
import type { ListMatchers } from './list-matchers.js';
import { lookup } from './lookup.js';
import type { StateWrites } from './state-health.js';

/**
 * The local admin API: JSON over HTTP on a unix socket with mode 0600, so only
 * root (the CLI run by the operator) can edit routing — it replaces the plugin's "magic query with
 * a token", which anyone on the LAN who learned the token could send.
 *
 *   GET  /v1/domains?list=L        {list, added[], registry}
 *   POST /v1/domains {op, list, name}   op = add | remove; additions persist and resolve at once —
 *        an edit is applied only once it is on disk: when stateDir cannot be written the answer is
 *        503 STATE_UNWRITABLE and nothing changed (memory and file agree, a retry does it again)
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
  stateDir: string;
  additions: Map<string, Set<string>>;
  stateWrites: StateWrites;
  logger: Logger;
  onChange: (list: string, added: readonly string[]) => void;
  onEvent?: (e: AdminEvent) => void;
}): Promise<AdminApi> {
  const { socketPath: path, matchers, additions, logger } = opts;
  /** Edits are serialised so two `add`s cannot interleave their file writes. */
  /** Edits one at a time: each is applied only once its file is written (see the header). */
  const edits = new SerialQueue();

  async function edit(body: z.infer<typeof editSchema>): Promise<[number, unknown]> {
    const set = additions.get(body.list);
    if (!set) return [404, { error: `no list named "${body.list}"; configured: ${[...additions.keys()].join(', ')}` }];
    const d = normaliseDomain(body.name);
    if (d.kind !== 'name') return [400, { error: `"${body.name}" is not a domain name (a bare TLD is refused)` }];
    const { name } = d;
    const adding = body.op === 'add';
    if (adding && set.has(name)) return [200, { list: body.list, name, changed: false }];
    if (!adding && !set.has(name)) {
      const inRegistry = matchers.get(body.list)?.registry.match(name) === name;
      return [inRegistry ? 409 : 404, { error: inRegistry ? `"${name}" comes from the registry; only runtime additions can be removed` : `"${name}" is not a runtime addition of "${body.list}"` }];
    }
    const next = new Set(set);
    if (adding) next.add(name);
    else next.delete(name);
    try {
      await saveAdditions(opts.stateDir, new Map([...additions, [body.list, next]]));
      opts.stateWrites.ok(DOMAINS_FILE);
    } catch (err) {
      const why = opts.stateWrites.failure(DOMAINS_FILE, err);
      const e = new SidecarError(
        'STATE_UNWRITABLE',
        'learner',
        `${why}: "${name}" was not ${adding ? 'added to' : 'removed from'} ${body.list}, nothing changed; make the directory writable (stateDir in the config) and try again`,
        { cause: err },
      );
      logger.error({ err: errorMessage(err), list: body.list, name }, e.message);
      return [503, { error: e.message, code: e.code }];
    }
    if (adding) set.add(name);
    else set.delete(name);
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
      return edits.run(() => edit(parsed.data));
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
      await edits.idle(); // an edit whose client went away still finishes its write before the daemon exits
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
