import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NftFamily } from './nft-json.js';
import { spawnNft } from './nft-runner.js';
import { isRecord } from '../narrow/is-record.js';

/**
 * A change to nftables, from the in-process netlink subscription (src/lib/nft/netlink/
 * nft-subscription.ts) or, where netlink cannot run, from `nft -j monitor`. nft 1.0.6 reports
 * `flush set` and `flush ruleset` not as a flush but as one `delete element` per element (then
 * `delete set`/`delete table` for a ruleset flush), so consumers see: table/set add+delete, and
 * element add+delete with a count.
 *
 * `origin` (netlink only) is exact: `own` when the kernel says one of this backend's own sockets
 * sent the change (nlmsg_pid), `foreign` otherwise. Without it (`nft -j monitor` cannot tell),
 * consumers must guess, and must re-read whenever the guess could hide a foreign change.
 */
export type NftEvent = (
  | { op: 'add' | 'delete'; kind: 'table'; family: NftFamily; table: string }
  | { op: 'add' | 'delete'; kind: 'set'; family: NftFamily; table: string; set: string }
  | { op: 'add' | 'delete'; kind: 'element'; family: NftFamily; table: string; set: string; count: number }
) & { readonly origin?: 'own' | 'foreign' };

export interface MonitorHandle {
  stop(): Promise<void>;
}

export interface MonitorOptions {
  readonly netns?: string;
  onEvent(e: NftEvent): void;
  /**
   * `up` once subscribed (events may have been missed before it: callers resync), `down` when the
   * monitor stopped (restarted with backoff), `lost` when events were dropped (a netlink receive
   * buffer overflowed): callers re-read and repair every set in the namespace.
   */
  onState?(state: 'up' | 'down' | 'lost', detail?: string): void;
  /** First restart delay, doubled up to 30 s; reset after a minute up. */
  readonly restartMs?: number;
}

const isFamily = (v: unknown): v is NftFamily => v === 'inet' || v === 'ip' || v === 'ip6';

/** Narrows one monitor line; undefined for everything we do not follow (rules, chains, maps…). */
export function parseMonitorLine(line: string): NftEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(v)) return undefined;
  const op = 'add' in v ? 'add' : 'delete' in v ? 'delete' : undefined;
  if (op === undefined) return undefined;
  const body = v[op];
  if (!isRecord(body)) return undefined;
  if (isRecord(body.table)) {
    const t = body.table;
    return isFamily(t.family) && typeof t.name === 'string' ? { op, kind: 'table', family: t.family, table: t.name } : undefined;
  }
  if (isRecord(body.set)) {
    const s = body.set;
    if (!isFamily(s.family) || typeof s.table !== 'string' || typeof s.name !== 'string') return undefined;
    return { op, kind: 'set', family: s.family, table: s.table, set: s.name };
  }
  if (isRecord(body.element)) {
    const e = body.element;
    if (!isFamily(e.family) || typeof e.table !== 'string' || typeof e.name !== 'string') return undefined;
    const inner = isRecord(e.elem) ? e.elem.set : e.elem;
    const count = Array.isArray(inner) ? inner.length : 1;
    return { op, kind: 'element', family: e.family, table: e.table, set: e.name, count };
  }
  return undefined;
}

/** Follows `nft -j monitor` (inside `netns` when set) and restarts it with backoff when it exits. */
export function startMonitor(opts: MonitorOptions): MonitorHandle {
  const base = opts.restartMs ?? 250;
  let delay = base;
  let stopped = false;
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;

  const launch = (): void => {
    if (stopped) return;
    const startedAt = Date.now();
    const c = spawnNft(['-j', 'monitor'], opts.netns);
    child = c;
    let stderr = '';
    c.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    c.on('spawn', () => opts.onState?.('up'));
    const rl = createInterface({ input: c.stdout!, crlfDelay: Infinity });
    rl.on('line', (line) => {
      const e = parseMonitorLine(line);
      if (e !== undefined) opts.onEvent(e);
    });
    const onGone = (detail: string): void => {
      if (child !== c) return;
      child = undefined;
      rl.close();
      if (stopped) return;
      opts.onState?.('down', detail);
      delay = Date.now() - startedAt > 60_000 ? base : Math.min(delay * 2, 30_000);
      timer = setTimeout(launch, delay);
    };
    c.on('error', (err) => onGone(err.message));
    c.on('close', (code, sig) => onGone(`nft monitor exited (${sig ?? code})${stderr ? `: ${stderr.trim()}` : ''}`));
  };

  launch();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise<void>((r) => c.once('close', () => r()));
        c.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    },
  };
}
