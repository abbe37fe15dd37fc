/**
 * One network namespace of the lab and the processes started in it. Every command runs as
 * `ip netns exec NS …`, which execs the target (so the child's pid is the target's pid) and passes
 * the environment through.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './reaper.js';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; null when killed by a signal (e.g. the timeout). */
  readonly code: number | null;
}

export interface ExecOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Default 30 000 ms; the process group is killed after it. */
  readonly timeoutMs?: number;
  readonly input?: string;
}

export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Send stdout+stderr to DIR/<logName>.log instead of pipes (daemons). */
  readonly logName?: string;
}

export class NetnsHost {
  private readonly children = new Set<ChildProcess>();

  constructor(
    /** Namespace name, e.g. `us-r-1234-1`. */
    readonly name: string,
    /** `router` or `lan`: the role in the lab. */
    readonly role: 'router' | 'lan',
    /** Name of the veth end inside this namespace. */
    readonly ifname: string,
    readonly ipv4: string,
    readonly ipv6: string,
    /** `unix:path=…` of this namespace's own system bus. */
    readonly bus: string,
    /** Avahi host name (without `.local`). */
    readonly avahiHostName: string,
    /** Where logs of processes started with `logName` go. */
    readonly logDir: string,
  ) {}

  /** Runs to completion; never throws for a non-zero exit (look at `code`). */
  exec(cmd: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.name, ...cmd], {
        env: { ...process.env, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), opts.timeoutMs ?? 30_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.children.delete(child);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ stdout, stderr, code });
      });
      child.stdin.on('error', () => undefined); // EPIPE when the command exits without reading
      child.stdin.end(opts.input ?? '');
    });
  }

  /** Like exec, but rejects with stderr when the exit code is not 0. */
  async run(cmd: readonly string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) throw new Error(`lab: [${this.name}] ${cmd.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * A long-running process in its own process group, stopped by `teardown`. With `logName`,
   * stdout and stderr go to a file; otherwise they are pipes the caller must consume.
   */
  spawn(cmd: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    let fd: number | undefined;
    let stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
    if (opts.logName !== undefined) {
      fd = openSync(join(this.logDir, `${opts.logName}.log`), 'a');
      stdio = ['ignore', fd, fd];
    }
    const child = spawn('ip', ['netns', 'exec', this.name, ...cmd], {
      env: { ...process.env, ...opts.env },
      stdio,
      detached: true,
    });
    if (fd !== undefined) closeSync(fd); // the child has its own copy
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** Stops every process this host started (TERM, then KILL after `graceMs`). */
  async stopAll(graceMs = 2000): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, 'SIGTERM', graceMs)));
    this.children.clear();
  }

  /** Pids of the process groups this host started (for the synchronous exit sweep). */
  pids(): number[] {
    return [...this.children].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }
}

/** `ip …` in the root namespace, throwing with stderr on failure. */
export function ipSync(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lab: ip ${args.join(' ')} failed: ${(r.stderr ?? '').trim() || String(r.error)}`);
}
