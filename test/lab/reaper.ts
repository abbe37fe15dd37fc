/**
 * Cleanup that survives failing tests: every process the lab starts is a process-group leader
 * (`detached: true`), so killing `-pgid` takes its children too; every namespace and temp dir is
 * registered here so that a synchronous best-effort sweep runs on `exit` (and, unless the caller
 * handles signals itself, on SIGINT/SIGTERM/SIGHUP) even when `teardown()` never ran.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';

export interface Sweepable {
  /** Synchronous, idempotent, never throws. */
  sweepSync(): void;
}

const live = new Set<Sweepable>();
let exitHookInstalled = false;
let signalHookInstalled = false;

export function track(s: Sweepable): () => void {
  installExitHook();
  live.add(s);
  return () => live.delete(s);
}

function sweepAll(): void {
  for (const s of [...live]) {
    try {
      s.sweepSync();
    } catch {
      // best effort: keep sweeping the others
    }
    live.delete(s);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', sweepAll);
}

/** Sweep then die by the same signal (so the exit status still says "killed by SIGINT"). */
export function installSignalCleanup(): void {
  if (signalHookInstalled) return;
  signalHookInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      sweepAll();
      process.off(sig, handler);
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

export function killGroupSync(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** TERM the group, wait up to `graceMs` for the leader to exit, then KILL the group. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroupSync(child.pid, 'SIGKILL'); // stragglers in the group
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroupSync(child.pid, signal);
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    killGroupSync(child.pid, 'SIGKILL');
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
  } else {
    killGroupSync(child.pid, 'SIGKILL');
  }
}

/** Kill everything still inside `ns`, then delete it. Synchronous; safe to call twice. */
export function deleteNetnsSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const line of (pids.stdout ?? '').split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 0) killGroupSync(pid, 'SIGKILL');
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Namespaces left by a lab whose process died without cleaning up (SIGKILL, OOM): names carry
 * the owner's pid (`us-r-<pid>-<n>`), so a name whose pid is no longer alive is ours to remove.
 */
export function sweepStaleNamespaces(prefixes: readonly string[]): string[] {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^(us-[rl])-(\d+)-\d+$/.exec(name);
    if (!m?.[1] || !m[2] || !prefixes.includes(m[1])) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    deleteNetnsSync(name);
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
