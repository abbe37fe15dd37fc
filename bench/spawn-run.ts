import { spawn } from 'node:child_process';

/** A child process run to its end: what it printed, its exit code, and its wall time in ms. */
export interface RunResult {
  readonly out: string;
  readonly err: string;
  readonly code: number | null;
  readonly ms: number;
}

export function run(cmd: string, args: readonly string[]): Promise<RunResult> {
  const t = performance.now();
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('close', (code) => resolve({ out, err, code, ms: performance.now() - t }));
  });
}
