/**
 * The CLI as a production install runs it: the packed tarball (`npm pack`, exactly the files a
 * user gets) with production dependencies only (`npm ci --omit=dev` from the lockfile, offline from
 * the npm cache the repo's own `npm ci` filled), on a pseudo-terminal (`script` from util-linux) —
 * a terminal is what made the logger reach for pino-pretty, which only dev installs have.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import { findBinary, inCI } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 180_000 });

/** Why this cannot run here (outside CI a skip; in CI a failure), or undefined. */
function missing(): string | undefined {
  if (findBinary('script') === undefined) return 'script (util-linux) is not installed';
  if (findBinary('npm') === undefined) return 'npm is not on PATH';
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'main.js'))) return 'dist/src/main.js is not built';
  return undefined;
}
const why = missing();
if (why !== undefined && inCI()) throw new Error(`prerequisite missing in CI: ${why}`);

/**
 * `script -qec CMD /dev/null`: CMD on a pty; `-e` returns its exit status. Output is what the
 * terminal showed. script(1) runs CMD with `$SHELL -c` (/bin/sh when SHELL is unset); dash does not
 * exec a lone command, so `exec` makes CMD script's own child whatever the shell.
 */
const scriptArgs = (command: string): string[] => ['-qec', `exec ${command}`, '/dev/null'];
function onTerminal(command: string, env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  const r = spawnSync('script', scriptArgs(command), { encoding: 'utf8', env, timeout: 30_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('production install (npm pack → npm ci --omit=dev) on a terminal', { skip: why ?? false, timeout: 300_000 }, () => {
  let dir: string;
  let app: string;
  const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/us-prod-install-bus', NO_COLOR: '1' };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'us-prod-'));
    // --ignore-scripts: `prepare` would rebuild dist/, which the test run has just built.
    const pack = npm(['pack', '--ignore-scripts', '--pack-destination', dir], repoRoot());
    assert.equal(pack.status, 0, pack.stderr);
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, `npm pack wrote no tarball: ${pack.stdout}`);
    mkdirSync(join(dir, 'unpacked'));
    const untar = spawnSync('tar', ['-xzf', join(dir, tgz), '-C', join(dir, 'unpacked')], { encoding: 'utf8' });
    assert.equal(untar.status, 0, untar.stderr);
    app = join(dir, 'unpacked', 'package');
    // The lockfile pins what `npm install` of the tarball would resolve; `npm ci` needs no registry
    // metadata for it, so it installs offline from the cache.
    cpSync(join(repoRoot(), 'package-lock.json'), join(app, 'package-lock.json'));
    const install = npm(['ci', '--offline', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], app);
    assert.equal(install.status, 0, `npm ci --offline --omit=dev: ${install.stderr}`);
    assert.ok(existsSync(join(app, 'node_modules', 'pino')), 'pino installed');
    assert.ok(!existsSync(join(app, 'node_modules', 'pino-pretty')), 'no devDependency in a production install');
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a one-shot command that logs (resolve) answers as it should: no crash, no exit 70', () => {
    const config = join(dir, 'resolve.json');
    writeFileSync(config, JSON.stringify({ mdns: { backend: 'avahi' } }));
    const r = onTerminal(`${process.execPath} ${join(app, 'dist', 'src', 'main.js')} resolve printer.local --config ${config}`, env);
    assert.doesNotMatch(r.output, /transport target|unexpected error/, r.output);
    assert.equal(r.status, 2, `SERVFAIL (Avahi absent) is exit 2: ${r.output}`);
    assert.match(r.output, /resolve: SERVFAIL/);
  });

  test('the daemon (run) on a terminal starts, logs JSON lines, and stops on SIGTERM with exit 0', async () => {
    const config = join(dir, 'run.json');
    writeFileSync(config, JSON.stringify({ dns: { listen: ['127.0.0.1:0'] }, metrics: { listen: '127.0.0.1:0' }, mdns: { backend: 'avahi' }, stateDir: join(dir, 'state') }));
    const child = spawn('script', scriptArgs(`${process.execPath} ${join(app, 'dist', 'src', 'main.js')} run --config ${config}`), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let daemon = 0;
    try {
      await waitFor('the daemon to be ready', () => (/unbound-sidecar ready/.test(output) ? true : child.exitCode !== null ? Promise.reject(new Error(output)) : undefined), { timeoutMs: 20_000 });
      // script(1) runs the command in a session of its own on the pty: signal the daemon itself.
      daemon = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
      assert.ok(daemon > 0, "the daemon is script's child");
      assert.match(readFileSync(`/proc/${daemon}/cmdline`, 'utf8'), /main\.js/, "script's child is the daemon, not a shell");
      process.kill(daemon, 'SIGTERM');
      assert.equal(await exited, 0, output);
    } finally {
      if (child.exitCode === null) {
        if (daemon > 0) process.kill(daemon, 'SIGKILL');
        child.kill('SIGKILL');
      }
    }
    const lines = output.split(/\r?\n/).filter((l) => l.trim() !== '');
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a JSON line: ${l}`);
  });
});
