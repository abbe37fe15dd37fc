/**
 * The built daemon as a child process for list tests: its own process group (killed as a group),
 * the system bus it is given (one with a real avahi-daemon on it, so /readyz can be 200), the log
 * captured, and the HTTP address taken from its "ready" line, so the config can bind port 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { sidecarEntry } from '../lab/prereqs.js';
import { killGroupSync } from '../lab/reaper.js';
import { waitFor } from '../lab/wait.js';

export interface ListDaemon {
  readonly pid: number | undefined;
  /** Everything it wrote to stdout and stderr so far. */
  log(): string;
  /** `http://host:port` of the metrics/status listener. */
  readonly http: string;
  signal(sig: NodeJS.Signals): void;
  stop(sig?: NodeJS.Signals): Promise<void>;
}

export async function startListDaemon(configFile: string, bus: string): Promise<ListDaemon> {
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [sidecarEntry(), 'run', '--config', configFile], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (sig: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killGroupSync(child.pid, sig);
    await exited;
  };
  try {
    const ready = await waitFor(
      'the daemon to be ready',
      () => {
        const line = log.split('\n').find((l) => l.includes('"unbound-sidecar ready"'));
        if (line) return JSON.parse(line) as { metrics: { host: string; port: number } };
        return child.exitCode !== null ? Promise.reject(new Error(`daemon exited: ${log}`)) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    return { pid: child.pid, log: () => log, http: `http://${ready.metrics.host}:${ready.metrics.port}`, signal: (sig) => killGroupSync(child.pid, sig), stop };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}
