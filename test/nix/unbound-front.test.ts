/**
 * The Unbound settings the Nix module writes behind the DNS front (nix/lib/unbound-settings.nix
 * with `front`), checked with the real Unbound:
 *   - unbound-checkconf accepts them (proxy-protocol-port, the 127.0.0.1@5301 interface);
 *   - an Unbound started with them in a throwaway namespace answers the router itself on plain
 *     loopback, answers a PROXYv2 query whose header names a LAN client, REFUSES one naming an
 *     address outside the LAN prefixes (access-control sees the proxied client), and ignores a
 *     query on the proxy port without the header.
 * The queries come from test/nix/proxy-v2-probe.ts run inside the namespace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../lab/prereqs.js';
import { ipSync } from '../lab/netns.js';
import { deleteNetnsSync, stopChild } from '../lab/reaper.js';
import { waitFor } from '../lab/wait.js';
import { NIX, need, nixEval, nixStateDir, nixString, root, useNixState } from './nix-helpers.js';

useNixState();

const PORT = 5301;
/** unbound.conf text: the module's settings with the front, plus the test's sandbox paths and a record to ask for. */
function renderConf(extra: Readonly<Record<string, string | boolean>> = {}): string {
  const settings = `import ./nix/lib/unbound-settings.nix { front = { port = ${PORT}; allow = [ "10.77.0.0/24" "fd01:2345:6789::/64" ]; }; }`;
  const base = {
    username: '""',
    chroot: '""',
    pidfile: '""',
    directory: JSON.stringify(nixStateDir()),
    'do-daemonize': false,
    'use-syslog': false,
    'local-data': '"front.test. A 192.0.2.1"',
    ...extra,
  };
  const baseNix = `{ ${Object.entries(base)
    .map(([k, v]) => `${k} = ${typeof v === 'boolean' ? String(v) : nixString(v)};`)
    .join(' ')} }`;
  return nixEval(`import ./test/nix/unbound-conf.nix { settings = ${settings}; base = ${baseNix}; }`) as string;
}

describe('nix/lib/unbound-settings.nix with the front: unbound-checkconf', { skip: need({ ...NIX, 'unbound-checkconf': 'unbound' }) }, () => {
  it('accepts it; Unbound keeps loopback, gets the proxy-protocol interface and admits the LAN prefixes', () => {
    const conf = renderConf();
    const path = join(nixStateDir(), 'unbound-front.conf');
    writeFileSync(path, conf);
    const r = spawnSync(findBinary('unbound-checkconf') ?? 'unbound-checkconf', [path], { encoding: 'utf8' });
    assert.equal(r.status, 0, `unbound-checkconf:\n${r.stderr}${r.stdout}\n${conf}`);
    const lines = conf.split('\n').map((l) => l.trim());
    for (const want of [
      'interface: 127.0.0.1',
      'interface: ::1',
      `interface: 127.0.0.1@${PORT}`,
      `proxy-protocol-port: ${PORT}`,
      'access-control: 127.0.0.0/8 allow',
      'access-control: 10.77.0.0/24 allow',
      'access-control: fd01:2345:6789::/64 allow',
    ]) {
      assert.ok(lines.includes(want), `${want}\n${conf}`);
    }
    assert.ok(!lines.some((l) => /^interface: (10\.|fd01)/.test(l)), 'Unbound is off the LAN addresses');
  });
});

describe('Unbound with those settings, in a namespace (real Unbound, PROXYv2 from the spec)', { skip: need({ ...NIX, unbound: 'unbound', ip: 'iproute2' }, true) }, () => {
  const ns = `us-u-${process.pid}-1`;
  let unbound: ChildProcess | undefined;
  let log = '';
  const probe = (port: number, client: string, name = 'front.test.'): { timeout?: true; rcode?: string; answers?: string[] } => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, join(root, 'dist', 'test', 'nix', 'proxy-v2-probe.js'), String(port), client, name], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `probe: ${r.stderr}`);
    return JSON.parse(r.stdout) as { timeout?: true; rcode?: string; answers?: string[] };
  };

  before(async () => {
    ipSync(['netns', 'add', ns]);
    ipSync(['-n', ns, 'link', 'set', 'lo', 'up']);
    const path = join(nixStateDir(), 'unbound-front-run.conf');
    writeFileSync(path, renderConf({ logfile: '""', verbosity: '1' }));
    unbound = spawn('ip', ['netns', 'exec', ns, findBinary('unbound') ?? 'unbound', '-d', '-c', path], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    unbound.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    unbound.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    await waitFor('Unbound answering on 127.0.0.1:53', () => probe(53, 'none').rcode === 'NOERROR', { timeoutMs: 20_000, intervalMs: 200 }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${log}`);
    });
  });
  after(async () => {
    if (unbound !== undefined) await stopChild(unbound, 'SIGTERM', 2000);
    deleteNetnsSync(ns);
  });

  it('the router itself: plain loopback, no header', () => {
    assert.deepEqual(probe(53, 'none'), { rcode: 'NOERROR', answers: ['192.0.2.1'] });
  });

  it('a LAN client through the front: answered (IPv4 and IPv6 clients)', () => {
    assert.deepEqual(probe(PORT, '10.77.0.50'), { rcode: 'NOERROR', answers: ['192.0.2.1'] });
    assert.deepEqual(probe(PORT, 'fd01:2345:6789::50'), { rcode: 'NOERROR', answers: ['192.0.2.1'] });
  });

  it('a client outside the LAN prefixes: REFUSED by access-control on its proxied address', () => {
    assert.deepEqual(probe(PORT, '198.51.100.9'), { rcode: 'REFUSED', answers: [] });
    assert.deepEqual(probe(PORT, '2001:db8::9'), { rcode: 'REFUSED', answers: [] });
  });

  it('no PROXYv2 header on the proxy port: no answer', () => {
    assert.deepEqual(probe(PORT, 'none'), { timeout: true });
  });
});
