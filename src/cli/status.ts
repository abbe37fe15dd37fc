import { connectHost, formatHostPort, parseHostPort } from '../lib/net/host-port.js';
import { loadConfig } from '../config/index.js';
import { errorMessage, SidecarError } from '../errors.js';
import { assessStatus, formatAge, statusSnapshotSchema, type Assessment, type StatusSnapshot } from '../http/status.js';

/**
 * `unbound-sidecar status`: what the page at `/` shows, in the terminal. Exit codes (for scripts
 * and monitoring that only see the code):
 *   0  healthy
 *   1  unhealthy — mdns down, dnstap disconnected, a list stale (> 3× its refresh without a full
 *      success), a list whose last refresh failed, a set whose last apply failed (`assessStatus`)
 *   3  the daemon did not answer /api/status (not running, wrong address, too old)
 * A bad config file throws a SidecarError, which main.ts turns into 2 like every command.
 */
export const EXIT_UNHEALTHY = 1;
export const EXIT_UNREACHABLE = 3;

export interface StatusCommandOptions {
  file: string | undefined;
  json: boolean;
  /** Base URL of the metrics listener; default from `metrics.listen` in the config. */
  metricsUrl?: string;
  timeoutMs?: number;
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  color: boolean;
}

const defaultIo = (): Io => ({
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  // https://no-color.org: colour only for a person at a terminal.
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
});

/** `metrics.listen` → a URL we can connect to: a wildcard bind is reached over loopback. */
export function metricsBaseUrl(listen: string): string {
  const hp = parseHostPort(listen);
  if (!hp) throw new SidecarError('USAGE', 'status', `expected HOST:PORT of the metrics listener, e.g. 127.0.0.1:9335 (got "${listen}")`);
  return `http://${formatHostPort(connectHost(hp.host), hp.port)}`;
}

export async function statusCommand(opts: StatusCommandOptions, io: Io = defaultIo()): Promise<number> {
  const base = (opts.metricsUrl ?? metricsBaseUrl((await loadConfig(opts.file)).metrics.listen)).replace(/\/+$/, '');
  const url = `${base}/api/status`;
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), headers: { accept: 'application/json' } });
    if (res.status === 404) {
      io.err(`status: ${url} answered 404: the daemon there has no status API (older version, or another service on that port)\n`);
      return EXIT_UNREACHABLE;
    }
    if (!res.ok) {
      io.err(`status: ${url} answered HTTP ${res.status}\n`);
      return EXIT_UNREACHABLE;
    }
    body = await res.json();
  } catch (err) {
    io.err(`status: cannot reach the daemon at ${url}: ${errorMessage(err)} (is it running? \`systemctl status unbound-sidecar\`; is metrics.listen right?)\n`);
    return EXIT_UNREACHABLE;
  }
  const parsed = statusSnapshotSchema.safeParse(body);
  if (!parsed.success) {
    io.err(`status: ${url} answered JSON that is not a status snapshot (${parsed.error.issues[0]?.path.join('.') ?? '?'}: ${parsed.error.issues[0]?.message ?? '?'})\n`);
    return EXIT_UNREACHABLE;
  }
  const snapshot = parsed.data;
  const assessment = assessStatus(snapshot);
  if (opts.json) io.out(`${JSON.stringify({ ...snapshot, assessment }, null, 2)}\n`);
  else io.out(renderStatusText(snapshot, assessment, io.color));
  return assessment.healthy ? 0 : EXIT_UNHEALTHY;
}

/**
 * Strip terminal control characters: list names come from config, error texts from the network,
 * and an ESC sequence in a registry's error page must not repaint the operator's terminal.
 */
const safe = (s: string | number): string => String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

function when(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)}Z`;
}

export function renderStatusText(s: StatusSnapshot, a: Assessment, color: boolean): string {
  const paint = (code: string) => (t: string) => (color ? `\u001b[${code}m${t}\u001b[0m` : t);
  const green = paint('32');
  const red = paint('31');
  const yellow = paint('33');
  const dim = paint('2');
  const bold = paint('1');
  const lines: string[] = [];

  lines.push(`${bold('unbound-sidecar')} ${safe(s.version)} ${dim(`· up ${formatAge((s.generatedAt - s.startedAt) / 1000)} · as of ${when(s.generatedAt)}`)}`);
  lines.push('', bold('health'));
  const m = s.health.mdns;
  lines.push(`  mdns     ${m.up ? green(`${m.backend} up`) : red(`${m.backend} down`)}`);
  const d = s.health.dnstap;
  lines.push(`  dnstap   ${d ? `${d.connected ? green('connected') : red('disconnected')} · ${d.connections} connection(s) · ${d.frames} frames` : dim('not configured')}`);
  const f = s.health.front;
  if (f) {
    const ins = f.insertion;
    const state = ins.state === 'ok' ? green('inserting before answering') : ins.state === 'off' ? dim('relay only (no learning list)') : red(safe(ins.problem ?? ins.state));
    lines.push(
      `  front    ${safe(f.listen.join(', '))} → ${safe(f.upstream)} · ${state} · ${ins.deadlineMisses} deadline miss(es) (${ins.failOpen} fail-open, ${ins.failClosed} fail-closed) · ${f.inflight} in flight · ${f.tcpConnections} tcp`,
    );
    if (f.notBound.length > 0) lines.push(`           ${red(`not listening on ${safe(f.notBound.join(', '))} yet (no interface has the address; retrying)`)}`);
    const u = f.udp;
    const drops = u.kernelDrops.listener + u.kernelDrops.upstream + u.kernelDrops.unbound;
    const buffer = u.receiveBufferBytes === undefined ? 'system default' : `${Math.round(u.receiveBufferBytes / 1024)} KiB`;
    lines.push(
      `           udp receive buffer ${u.receiveBufferCapped ? yellow(`${buffer} (capped by net.core.rmem_max: raise it, or grant CAP_NET_ADMIN)`) : buffer} · kernel drops ${(drops > 0 ? yellow : (x: string) => x)(`${u.kernelDrops.listener} listener, ${u.kernelDrops.upstream} upstream, ${u.kernelDrops.unbound} Unbound`)}`,
    );
  }
  const st = s.health.state;
  if (st) lines.push(`  state    ${st.writable ? green(`${safe(st.dir)} writable`) : red(`${safe(st.dir)}: ${st.failures.length} file(s) not saved`)}`);

  lines.push('', bold('lists'));
  if (s.lists.length === 0) lines.push(dim('  none configured'));
  for (const l of s.lists) {
    const stale = l.ageSeconds > 3 * l.refreshSeconds;
    const outcome = l.outcome ?? 'restored from snapshot';
    const paintOutcome = l.outcome === 'failed' || l.outcome === 'partial' ? red : l.outcome === 'kept-last-good' ? yellow : green;
    lines.push(`  ${bold(safe(l.name))}  ${paintOutcome(outcome)}${l.lastError ? ` ${dim(safe(l.lastError))}` : ''}`);
    lines.push(
      `    last sync ${when(l.lastSyncAt)} · fresh ${stale ? red(`${formatAge(l.ageSeconds)} ago (stale)`) : `${formatAge(l.ageSeconds)} ago`} · refresh every ${formatAge(l.refreshSeconds)}${l.learned !== undefined ? ` · learned ${l.learned}` : ''}`,
    );
    if (l.sets.length === 0) lines.push(dim('    sets: not applied yet'));
    for (const set of l.sets) lines.push(`    ${safe(set.set)}: ${set.elements} element(s)${set.lastError ? ` ${red(safe(set.lastError))}` : ''}`);
  }

  lines.push('', bold('recent warnings and errors'));
  if (s.errors.length === 0) lines.push(dim('  none'));
  for (const e of s.errors.slice(0, 10)) {
    lines.push(`  ${dim(when(e.at))} ${(e.level === 'warn' ? yellow : red)(e.level.padEnd(5))} ${safe(e.source)}: ${safe(e.message)}`);
  }
  if (s.errors.length > 10) lines.push(dim(`  … ${s.errors.length - 10} more (--json shows all)`));

  lines.push('');
  if (a.healthy) lines.push(green('healthy'));
  else lines.push(red(bold('unhealthy:')), ...a.problems.map((p) => `  - ${safe(p)}`));
  return `${lines.join('\n')}\n`;
}
