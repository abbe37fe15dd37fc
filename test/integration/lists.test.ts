/**
 * Registry lists end to end: the built daemon downloads a registry list from a fixture HTTP server on
 * loopback and keeps nftables sets in sync inside a throwaway network namespace (`nft.netns`, so
 * nothing touches this machine's own ruleset). Kernel state is checked with `nft get element`
 * (covered addresses, not text) and with `sync --dry-run` (nothing left to add or remove).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveBody, startFixtureServer, type FixtureServer } from '../helpers/fixture-http-server.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip, sidecarEntry } from '../lab/prereqs.js';
import { killGroupSync } from '../lab/reaper.js';
import { sleep, waitFor } from '../lab/wait.js';

const TABLE = 'table inet global {\n set force_vpn4 { type ipv4_addr; flags interval; }\n set force_vpn6 { type ipv6_addr; flags interval; }\n}\n';
const FIRST = ['1.2.3.4', '5.6.0.0/16', '10.0.0.0/8', '0.0.0.0/0', 'not-an-ip', '31.51.100.0/24', '2a00:1450::/32', 'fe80::/10'];

let ns: NftNetns;
let server: FixtureServer;
let dir: string;
let configFile: string;
let daemon: ChildProcess | undefined;
let log = '';

let metricsAddr = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function has(set: 'force_vpn4' | 'force_vpn6', addr: string): Promise<boolean> {
  const r = await ns.host.exec(['nft', 'get', 'element', 'inet', 'global', set, `{ ${addr} }`]);
  return r.code === 0;
}

async function startDaemon(): Promise<void> {
  log = '';
  const child = spawn(process.execPath, [sidecarEntry(), 'run', '--config', configFile], {
    // Avahi on a bus that does not exist: the .local side stays on loopback and quiet.
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/us-lists-bus' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  daemon = child;
  await waitFor(
    'the daemon to be ready (snapshots applied)',
    () => (/unbound-sidecar ready/.test(log) ? true : child.exitCode !== null ? Promise.reject(new Error(`daemon exited: ${log}`)) : undefined),
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

async function stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = daemon;
  daemon = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroupSync(child.pid, signal);
  await exited;
}

/**
 * Asynchronous on purpose: `sync` downloads from the fixture server, which lives in this process;
 * a spawnSync would block it until the child's download timed out (and the daemon's with it).
 */
function dryRun(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [sidecarEntry(), 'sync', '--config', configFile, '--dry-run'], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (code !== 0 && code !== 1) reject(new Error(`sync --dry-run failed (${code}): ${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('registry lists → nftables sets (the whole daemon, real nft in a namespace)', { skip: labSkip({ sidecar: true, binaries: { nft: 'nftables' } }), timeout: 240_000 }, () => {
  before(async () => {
    ns = createNftNetns();
    await ns.nft(['-f', '-'], TABLE);
    server = await startFixtureServer();
    server.route('/ips', serveBody(JSON.stringify(FIRST)));
    dir = mkdtempSync(join(tmpdir(), 'us-lists-'));
    configFile = join(dir, 'config.json');
    metricsAddr = `127.0.0.1:${await freePort()}`;
    const config = {
      dns: { listen: ['127.0.0.1:0'] },
      mdns: { backend: 'avahi' },
      metrics: { listen: metricsAddr },
      stateDir: join(dir, 'state'),
      lists: [
        {
          name: 'vpn',
          refresh: '1h',
          sources: [{ url: server.url('/ips'), format: 'json', contains: 'ips', timeoutMs: 20_000 }],
          exclude: ['31.51.100.7/32'],
          nft: { family: 'inet', table: 'global', set4: 'force_vpn4', set6: 'force_vpn6', netns: ns.name },
        },
      ],
    };
    writeFileSync(configFile, JSON.stringify(config));
    await startDaemon();
  });
  after(async () => {
    await stopDaemon();
    await server?.close();
    await ns?.teardown();
  });

  test('first load: listed space covered, bogons, too-broad, garbage and excluded addresses not', async () => {
    await waitFor('the first download to be applied', async () => ((await has('force_vpn4', '1.2.3.4')) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
    for (const a of ['1.2.3.4', '5.6.7.8', '5.6.255.255', '31.51.100.6', '31.51.100.8']) assert.ok(await has('force_vpn4', a), `${a} covered`);
    for (const a of ['1.2.3.5', '10.1.1.1', '8.8.8.8', '31.51.100.7', '5.7.0.0']) assert.ok(!(await has('force_vpn4', a)), `${a} not covered`);
    assert.ok(await has('force_vpn6', '2a00:1450::1'));
    assert.ok(!(await has('force_vpn6', 'fe80::1')), 'link-local is a bogon');
    assert.match(await dryRun(), /would add 0, would remove 0/);
    // The status API shows the list with both of its sets (set-sync says which list each set serves).
    const status = (await (await fetch(`http://${metricsAddr}/api/status`)).json()) as { lists: Array<{ name: string; sets: Array<{ set: string; elements: number }> }> };
    const vpn = status.lists.find((l) => l.name === 'vpn');
    assert.deepEqual(vpn?.sets.map((x) => x.set.split(' ')[2]).sort(), ['force_vpn4', 'force_vpn6']);
    assert.ok(
      vpn?.sets.every((x) => x.elements > 0),
      JSON.stringify(vpn),
    );
  });

  test('a changed list (SIGHUP) is applied as a difference; a list shrinking to 2 entries is refused', async () => {
    const changed = ['5.6.0.0/16', '9.9.9.0/24', '2a00:1450::/32', ...Array.from({ length: 7 }, (_, i) => `${31 + i}.0.0.0/24`)];
    server.route('/ips', serveBody(JSON.stringify(changed)));
    killGroupSync(daemon?.pid, 'SIGHUP');
    await waitFor('9.9.9.9 added', async () => ((await has('force_vpn4', '9.9.9.9')) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
    assert.ok(!(await has('force_vpn4', '1.2.3.4')), 'removed entry is gone');
    assert.ok(await has('force_vpn4', '5.6.7.8'));

    server.route('/ips', serveBody(JSON.stringify(['1.1.1.1', '2.2.2.2']))); // 2 of the last good 10: below minRatio 0.5
    killGroupSync(daemon?.pid, 'SIGHUP');
    await waitFor('the refusal to be logged', () => (/below-min-ratio|kept-last-good/.test(log) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
    assert.ok((await has('force_vpn4', '9.9.9.9')) && (await has('force_vpn4', '5.6.7.8')), 'set unchanged');
    assert.ok(!(await has('force_vpn4', '1.1.1.1')));
    server.route('/ips', serveBody(JSON.stringify(FIRST)));
  });

  test('`nft flush set` and delete + re-create of the table are refilled within 2 s', async () => {
    const t0 = performance.now();
    await ns.nft(['flush', 'set', 'inet', 'global', 'force_vpn4']);
    await waitFor('refill after flush', async () => ((await has('force_vpn4', '9.9.9.9')) ? true : undefined), { timeoutMs: 2000, intervalMs: 25 });
    const flushMs = performance.now() - t0;

    const t1 = performance.now();
    await ns.nft(['-f', '-'], `delete table inet global\n${TABLE}`); // what `systemctl reload nftables` does
    await waitFor('refill after re-create', async () => ((await has('force_vpn4', '9.9.9.9')) && (await has('force_vpn6', '2a00:1450::1')) ? true : undefined), { timeoutMs: 2000, intervalMs: 25 });
    const recreateMs = performance.now() - t1;
    assert.ok(flushMs <= 2000 && recreateMs <= 2000, `flush ${flushMs} ms, re-create ${recreateMs} ms`);
  });

  test('restart with the registry unreachable: sets restored from the snapshot before ready', async () => {
    await stopDaemon();
    await ns.nft(['-f', '-'], `delete table inet global\n${TABLE}`);
    server.route('/ips', (_req, res) => res.writeHead(500).end('down'));
    await startDaemon();
    assert.ok(await has('force_vpn4', '9.9.9.9'), 'restored from the snapshot by the time the daemon is ready');
    assert.ok(await has('force_vpn6', '2a00:1450::1'));
    server.route('/ips', serveBody(JSON.stringify(FIRST)));
  });

  test('kill -9 during a sync → consistent after restart', async () => {
    // A big list so the apply is in progress when the daemon dies.
    const big = Array.from({ length: 60_000 }, (_, i) => `${20 + (i >> 14)}.${(i >> 6) & 255}.${(i & 63) * 4}.0/30`);
    server.route('/ips', serveBody(JSON.stringify(big)));
    killGroupSync(daemon?.pid, 'SIGHUP');
    await waitFor('the download to start', () => (server.hits('/ips') > 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 10 });
    await sleep(300);
    await stopDaemon('SIGKILL');
    await startDaemon();
    let last = '';
    await waitFor(
      'the restarted daemon to converge',
      async () => {
        last = await dryRun();
        return /force_vpn4[^\n]*would add 0, would remove 0/.test(last) && /force_vpn6[^\n]*would add 0, would remove 0/.test(last) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).catch((err: Error) => assert.fail(`${err.message}\n${last}`));
    const probe = await ns.host.exec(['nft', 'get', 'element', 'inet', 'global', 'force_vpn4', '{ 20.0.0.1 }']);
    assert.equal(probe.code, 0, `20.0.0.1 covered; nft said: ${probe.stderr.slice(0, 500)}; dry run said:\n${last}`);
  });
});
