/**
 * Unbound in the router namespace, configured like the router: the forwarding snippet that
 * `unbound-sidecar render unbound` prints, plus only what a lab needs (foreground, no user switch,
 * no chroot, no pid file, stderr logging, one thread, no trust anchor).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetnsHost } from './netns.js';
import type { Probe } from './probe-client.js';
import { stopChild } from './reaper.js';
import { waitFor } from './wait.js';

export interface UnboundOptions {
  /** Zones forwarded to `forwardTo`, e.g. ["local.", "77.10.in-addr.arpa."]. */
  readonly forwardZones: readonly string[];
  /** `127.0.0.1@5335`. */
  readonly forwardTo: string;
  /** `local-data:` lines, e.g. `bench.local. A 10.0.0.1`. */
  readonly localData?: readonly string[];
  /** Listen port on 127.0.0.1 inside the router namespace; default 53. */
  readonly port?: number;
  /** Use this forwarding snippet verbatim instead of generating it (e.g. `render unbound` output). */
  readonly snippet?: string;
  /** Extra `server:` lines, e.g. `verbosity: 2`. */
  readonly extraServer?: readonly string[];
  /** Default 1. */
  readonly threads?: number;
}

const REVERSE = /\.(in-addr|ip6)\.arpa\.?$/i;

function abs(zone: string): string {
  return zone.endsWith('.') ? zone : `${zone}.`;
}

/** The README's Unbound snippet, generated the way the sidecar renders it. */
export function renderForwardSnippet(zones: readonly string[], forwardTo: string): string {
  const lines = ['server:', '  do-not-query-localhost: no'];
  if (zones.some((z) => abs(z).toLowerCase() === 'local.')) lines.push('  domain-insecure: "local"');
  for (const z of zones) if (REVERSE.test(z)) lines.push(`  local-zone: "${abs(z)}" transparent`);
  for (const z of zones) lines.push('forward-zone:', `  name: "${abs(z)}"`, `  forward-addr: ${forwardTo}`);
  return `${lines.join('\n')}\n`;
}

export function renderUnboundConfig(dir: string, opts: UnboundOptions): string {
  const server = [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${opts.port ?? 53}`,
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    `  directory: "${dir}"`,
    `  num-threads: ${opts.threads ?? 1}`,
    '  do-ip6: no',
    '  verbosity: 1',
    ...(opts.localData ?? []).map((d) => `  local-data: "${d}"`),
    ...(opts.extraServer ?? []).map((l) => `  ${l}`),
  ];
  return `${server.join('\n')}\n${opts.snippet ?? renderForwardSnippet(opts.forwardZones, opts.forwardTo)}`;
}

export class Unbound {
  private child: ChildProcess | undefined;

  constructor(
    private readonly host: NetnsHost,
    private readonly dir: string,
  ) {}

  async start(opts: UnboundOptions, probe: Probe): Promise<{ addr: string; port: number; pid: number | undefined }> {
    await this.stop();
    const port = opts.port ?? 53;
    const conf = join(this.dir, 'unbound.conf');
    writeFileSync(conf, renderUnboundConfig(this.dir, opts));
    const check = await this.host.exec(['unbound-checkconf', conf]);
    if (check.code !== 0) throw new Error(`lab: unbound.conf rejected: ${check.stderr || check.stdout}`);
    const child = this.host.spawn(['unbound', '-d', '-c', conf], { logName: 'unbound' });
    this.child = child;
    await waitFor(`unbound on 127.0.0.1@${port} in ${this.host.name}`, async () => {
      if (child.exitCode !== null) throw new Error(`unbound exited ${child.exitCode}; see unbound.log in ${this.dir}`);
      const r = await probe.dns({ server: '127.0.0.1', port, name: 'version.server', type: 'TXT', qclass: 3, timeoutMs: 300 });
      return r.ok && r.msg.rcode === 'NOERROR';
    });
    return { addr: `127.0.0.1@${port}`, port, pid: child.pid };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await stopChild(child, 'SIGTERM', 2000);
  }
}
