/** Shared by the Nix test files: prerequisites, a private nix-instantiate, and repository paths. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import { findBinary, inCI } from '../lab/prereqs.js';

export const root = repoRoot();
export const samples = join(root, 'test', 'nix', 'samples');

/** The skip reason, or false; in CI a missing prerequisite throws (fails the suite) instead. */
export function need(binaries: Readonly<Record<string, string>>, root_ = false): string | false {
  const missing = Object.entries(binaries)
    .filter(([bin]) => findBinary(bin) === undefined)
    .map(([b, p]) => `${b} (${p})`);
  let reason: string | undefined;
  if (missing.length > 0) reason = `missing ${missing.join(', ')}`;
  else if (root_ && process.getuid?.() !== 0) reason = 'needs root (network namespace for nft -c)';
  if (reason === undefined) return false;
  if (inCI()) throw new Error(`nix test prerequisite missing in CI: ${reason}`);
  return reason;
}
export const NIX = { 'nix-instantiate': 'nix-bin' };

let stateDir = '';
/** The private state dir (a scratch directory for files the tests write, too). */
export const nixStateDir = (): string => stateDir;

/** Call once at the top of a test file: a private Nix state dir for its nix-instantiate runs. */
export function useNixState(): void {
  before(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'us-nix-'));
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));
}

/** Runs nix-instantiate with a private state dir, so it never touches (or needs) /nix/var. */
export function nixInstantiate(args: readonly string[], timeout = 60_000): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(findBinary('nix-instantiate') ?? 'nix-instantiate', ['--readonly-mode', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NIX_STATE_DIR: stateDir },
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? ''), status: r.status };
}

/** `--eval --strict --json` of a Nix expression, parsed. */
export function nixEval(expr: string): unknown {
  const r = nixInstantiate(['--eval', '--strict', '--json', '-E', expr]);
  assert.equal(r.status, 0, `nix-instantiate failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

export const nixString = (s: string): string => JSON.stringify(s).replace(/\$\{/g, '\\${');

export function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (['node_modules', 'dist', '.git'].includes(e.name)) return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return nixFiles(p);
    return e.name.endsWith('.nix') ? [p] : [];
  });
}
