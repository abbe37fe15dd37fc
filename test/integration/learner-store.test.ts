/**
 * The learner's state directory with the whole daemon (the built `run`, as systemd starts it): a
 * real Unbound answers the names added at runtime, the learned sets live in a throw-away network
 * namespace (`nft.netns`).
 *
 * - SIGTERM in the middle of a burst of `domains add` (each one a write of learner-domains.json and
 *   a resolution that dirties learned.json): after every stop learned.json is complete, holds what
 *   was in the kernel set, no temp file is left, and every line the daemon printed is JSON.
 * - A read-only stateDir (a read-only bind mount in a private mount namespace: as root, chmod would
 *   not stop the writes): `domains add`/`remove` fail with the directory's name and change nothing,
 *   and /readyz says the state cannot be saved.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminRequest } from '../../src/learner/admin-client.js';
import { freePort } from '../lab/free-port.js';
import { loopbackUnboundConf } from '../lab/loopback-unbound.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip, sidecarEntry } from '../lab/prereqs.js';
import { killGroupSync, removeDirSync, stopChild, track } from '../lab/reaper.js';
import { waitFor } from '../lab/wait.js';

const ROUNDS = 5;
const NAMES_PER_ROUND = 20;
const nameOf = (round: number, i: number): string => `n${round}-${i}.store.test`;
const addressOf = (round: number, i: number): string => `45.90.${round}.${i + 1}`;

interface Daemon {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

describe('learner state directory with the real daemon', { skip: labSkip({ sidecar: true, binaries: { nft: 'nftables' } }), timeout: 300_000 }, () => {
  let dir: string;
  let ns: NftNetns;
  let unbound: ChildProcess | undefined;
  let untrack: (() => void) | undefined;
  const daemons: ChildProcess[] = [];

  const configFile = (name: string, stateDir: string, metricsPort: number, resolverPort: number): string => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        dns: { listen: ['127.0.0.1:0'] },
        mdns: { backend: 'avahi' },
        metrics: { listen: `127.0.0.1:${metricsPort}` },
        stateDir,
        admin: { socket: join(dir, `${name}.sock`) },
        resolve: { upstream: `127.0.0.1:${resolverPort}`, timeoutMs: 2000 },
        // The source is a closed loopback port: no download, the static set is left alone.
        lists: [
          {
            name: 'vpn',
            sources: [{ url: 'http://127.0.0.1:9/none.json', format: 'json', contains: 'ips' }],
            nft: { table: 'lrn', set4: 'static4', netns: ns.name, createSets: true },
            learn: { set4: 'learned4' },
          },
        ],
      }),
    );
    return file;
  };

  /** `prefix` runs the daemon under another command (unshare …). */
  const startDaemon = async (config: string, prefix: readonly string[] = []): Promise<Daemon> => {
    const argv = [...prefix, process.execPath, sidecarEntry(), 'run', '--config', config];
    const child = spawn(argv[0] ?? '', argv.slice(1), { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/us-store-bus' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    daemons.push(child);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor('the daemon to be ready', () => (/unbound-sidecar ready/.test(out) ? true : child.exitCode !== null ? Promise.reject(new Error(`daemon exited: ${out}`)) : undefined), {
      timeoutMs: 30_000,
    });
    return { child, out: () => out, exited };
  };

  const inKernel = async (address: string): Promise<boolean> => (await ns.host.exec(['nft', 'get', 'element', 'inet', 'lrn', 'learned4', `{ ${address} }`])).code === 0;
  const cli = (config: string, ...args: string[]) => spawnSync(process.execPath, [sidecarEntry(), ...args, '--config', config], { encoding: 'utf8', timeout: 20_000 });

  let resolverPort = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'us-store-'));
    untrack = track({ sweepSync: () => removeDirSync(dir) });
    ns = createNftNetns();
    resolverPort = await freePort();
    const data: string[] = ['local-zone: "store.test." static'];
    for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < NAMES_PER_ROUND; i++) data.push(`local-data: "${nameOf(r, i)}. 3600 IN A ${addressOf(r, i)}"`);
    const conf = loopbackUnboundConf(dir, resolverPort, data);
    const fd = openSync(join(dir, 'unbound.log'), 'a');
    unbound = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    await waitFor('unbound', () => spawnSync('kdig', ['@127.0.0.1', '-p', String(resolverPort), '+timeout=1', '+retry=0', nameOf(0, 0), 'A'], { encoding: 'utf8' }).stdout.includes('NOERROR'));
  });

  after(async () => {
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) killGroupSync(d.pid, 'SIGKILL');
    if (unbound) await stopChild(unbound, 'SIGTERM', 2000);
    await ns?.teardown();
    removeDirSync(dir);
    untrack?.();
  });

  test(`SIGTERM during a save burst, ${ROUNDS} times: learned.json complete with what was learned, no temp files, JSON-only output`, async () => {
    const stateDir = join(dir, 'state');
    const config = configFile('burst', stateDir, await freePort(), resolverPort);
    const learned: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const d = await startDaemon(config);
      // Adds in flight at once; the admin API writes them one after another.
      const adds = Array.from({ length: NAMES_PER_ROUND }, (_, i) =>
        adminRequest(join(dir, 'burst.sock'), 'POST', '/v1/domains', { op: 'add', list: 'vpn', name: nameOf(round, i) }).catch(() => undefined),
      );
      // Stop once a few are in the kernel set while the rest are still being added and resolved.
      const seen = await waitFor(
        'addresses learned',
        async () => {
          const found: string[] = [];
          for (let i = 0; i < NAMES_PER_ROUND; i++) if (await inKernel(addressOf(round, i))) found.push(addressOf(round, i));
          return found.length >= 3 ? found : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 10 },
      );
      learned.push(...seen);
      killGroupSync(d.child.pid, 'SIGTERM');
      assert.equal(await d.exited, 0, `round ${round}: exit status\n${d.out()}`);
      await Promise.all(adds);

      const out = d.out();
      assert.doesNotMatch(out, /saving learned addresses failed/, `round ${round}`);
      for (const line of out.split('\n').filter((l) => l !== '')) assert.doesNotThrow(() => JSON.parse(line), `round ${round}: not a JSON line: ${line}`);
      const files = readdirSync(stateDir);
      assert.deepEqual(
        files.filter((f) => f.includes('.tmp')),
        [],
        `round ${round}: temp files left`,
      );
      const doc = JSON.parse(readFileSync(join(stateDir, 'learned.json'), 'utf8')) as { version: number; entries: unknown[][] };
      assert.equal(doc.version, 1);
      const stored = new Set(doc.entries.map((e) => e[1]));
      for (const a of learned) assert.ok(stored.has(a), `round ${round}: ${a} was in the kernel set before SIGTERM, so it is in learned.json`);
      JSON.parse(readFileSync(join(stateDir, 'learner-domains.json'), 'utf8'));
    }
  });

  test('read-only stateDir: add and remove fail naming the directory and change nothing; /readyz says why', async (t) => {
    const stateDir = join(dir, 'ro-state');
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'learner-domains.json'), JSON.stringify({ version: 1, lists: { vpn: ['seeded.store.test'] } }));
    const metricsPort = await freePort();
    const config = configFile('ro', stateDir, metricsPort, resolverPort);
    // A private mount namespace for the daemon alone; the bind mount vanishes with it.
    const d = await startDaemon(config, ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', stateDir]);
    t.after(async () => {
      killGroupSync(d.child.pid, 'SIGTERM');
      await d.exited;
    });

    const adds = [1, 2].map(() => cli(config, 'domains', 'add', 'vpn', 'ro.store.test'));
    for (const add of adds) assert.equal(add.status, 1, `${add.stdout}${add.stderr}`);
    assert.doesNotMatch(adds[1]?.stdout ?? '', /already there/, 'the first add left nothing behind');
    const list = cli(config, 'domains', 'list', 'vpn');
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout, 'seeded.store.test\n', 'the failed add is not listed');
    const dirText = stateDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const add of adds)
      assert.match(add.stderr, new RegExp(`${dirText} is on a read-only file system \\(EROFS\\).*"ro\\.store\\.test" was not added to vpn, nothing changed; make the directory writable`));
    const lookup = await adminRequest(join(dir, 'ro.sock'), 'GET', '/v1/lookup?q=ro.store.test');
    assert.deepEqual((lookup.body as { matches: unknown[] }).matches, [], 'and no list matches it');

    const remove = cli(config, 'domains', 'remove', 'vpn', 'seeded.store.test');
    assert.equal(remove.status, 1, remove.stdout + remove.stderr);
    assert.match(remove.stderr, /"seeded\.store\.test" was not removed from vpn, nothing changed/);
    assert.equal(cli(config, 'domains', 'list', 'vpn').stdout, 'seeded.store.test\n', 'the failed remove keeps it');

    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /^FAIL state: learner-domains\.json: .*ro-state is on a read-only file system \(EROFS\)/m);
  });
});
