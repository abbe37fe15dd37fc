/**
 * The real daemon (`node dist/src/main.js run --config FILE`) in the router namespace, on the
 * router's own system bus, started the way systemd would start it, and ready when /readyz says so.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab.js';
import { sidecarEntry } from './prereqs.js';
import { stopChild } from './reaper.js';
import { waitFor } from './wait.js';
import { REVERSE_ZONE } from './fixtures.js';

export interface SidecarOptions {
  /** DNS port on 127.0.0.1 in the router namespace; default 5335 (what the Unbound snippet forwards to). */
  readonly dnsPort?: number;
  /** Metrics/readiness port; default 9335. */
  readonly metricsPort?: number;
  /** Merged over the lab's default config (shallow per top-level block). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Log file name in the router dir; default `sidecar` (→ sidecar.log). */
  readonly logName?: string;
  readonly readyTimeoutMs?: number;
  /** When the daemon counts as up, from its /readyz answer; default: 200. */
  readonly readyWhen?: (r: { readonly status: number; readonly body: string }) => boolean;
  /** Extra environment for the daemon (e.g. `UNBOUND_SIDECAR_NFT_BACKEND`, a `PATH` with a wrapped tool). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Sidecar {
  readonly dnsPort: number;
  readonly metricsPort: number;
  readonly configFile: string;
  readonly child: ChildProcess;
  /** The JSON log lines written so far. */
  logs(): string;
  /** SIGTERM and wait (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

export function labSidecarConfig(lab: Lab, dnsPort: number, metricsPort: number, extra: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const base: Record<string, Record<string, unknown> | string> = {
    dns: { listen: [`127.0.0.1:${dnsPort}`], zones: ['local.', REVERSE_ZONE] },
    mdns: { backend: 'avahi', timeoutMs: 1000 },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    log: { level: 'info' },
    stateDir: join(lab.dir, 'router', 'state'),
  };
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = base[k];
    out[k] = typeof b === 'object' && typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...b, ...v } : v;
  }
  return out;
}

export async function startSidecar(lab: Lab, opts: SidecarOptions = {}): Promise<Sidecar> {
  const dnsPort = opts.dnsPort ?? 5335;
  const metricsPort = opts.metricsPort ?? 9335;
  const logName = opts.logName ?? 'sidecar';
  const configFile = join(lab.dir, 'router', `${logName}.json`);
  writeFileSync(configFile, `${JSON.stringify(labSidecarConfig(lab, dnsPort, metricsPort, opts.config), null, 2)}\n`);
  const child = lab.spawnIn(
    'router',
    // LAB_SIDECAR_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): profile the daemon in a bench.
    [process.execPath, ...(process.env.LAB_SIDECAR_NODE_ARGS?.split(' ').filter(Boolean) ?? []), sidecarEntry(), 'run', '--config', configFile],
    { DBUS_SYSTEM_BUS_ADDRESS: lab.routerBus, ...opts.env },
    logName,
  );
  const logFile = join(lab.dir, 'router', `${logName}.log`);
  const logs = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(
      `the sidecar's /readyz on 127.0.0.1:${metricsPort}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`sidecar exited ${child.exitCode}:\n${logs().slice(-2000)}`);
        const r = await lab.http('router', `http://127.0.0.1:${metricsPort}/readyz`, 500);
        return r.ok && (opts.readyWhen ? opts.readyWhen(r) : r.status === 200);
      },
      { timeoutMs: opts.readyTimeoutMs ?? 15_000, intervalMs: 100 },
    );
  } catch (err) {
    await stopChild(child, 'SIGKILL', 0);
    throw new Error(`${(err as Error).message}\n--- ${logFile} (tail) ---\n${logs().slice(-2000)}`);
  }
  return { dnsPort, metricsPort, configFile, child, logs, stop: () => stopChild(child, 'SIGTERM', 5000) };
}
