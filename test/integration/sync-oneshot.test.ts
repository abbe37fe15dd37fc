/**
 * The oneshot `unbound-sidecar sync` as a timer runs it, whole CLI process, into sets in a
 * throwaway namespace: run twice on unchanged data the second run is a noop that does not read the
 * sets back (the record of what the first left holds: nothing committed since); anything that
 * commits in the namespace meanwhile (a hand-made change, a re-created namespace) makes the next
 * run read back and repair. Kernel state is checked with `nft get element` / `nft list set`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfnlSocket } from '../../src/lib/nft/netlink/nfnl-socket.js';
import { generation } from '../../src/lib/nft/netlink/set-info.js';
import { readRecord, recordPath } from '../../src/set-sync/applied-records.js';
import { serveBody, startFixtureServer, type FixtureServer } from '../helpers/fixture-http-server.js';
import { ipSync } from '../lab/netns.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip, sidecarEntry } from '../lab/prereqs.js';

const TABLE = 'table inet global {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n';
const LIST = ['5.6.0.0/16', '1.2.3.4', '31.51.100.0/25', '2a00:1450::/32'];

let ns: NftNetns;
let server: FixtureServer;
let dir: string;
let configFile: string;

function sync(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [sidecarEntry(), 'sync', '--config', configFile], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`sync failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

async function generationOf(netns: string): Promise<number> {
  const sock = NfnlSocket.open(netns);
  try {
    return await generation(sock);
  } finally {
    sock.close();
  }
}

const setLines = (out: string): string[] => out.split('\n').filter((l) => l.includes(' set '));
const has = async (set: 'v4' | 'v6', addr: string): Promise<boolean> => (await ns.host.exec(['nft', 'get', 'element', 'inet', 'global', set, `{ ${addr} }`])).code === 0;

describe('oneshot sync: a noop from the record while nothing else committed', { skip: labSkip({ sidecar: true, binaries: { nft: 'nftables' } }), timeout: 120_000 }, () => {
  before(async () => {
    ns = createNftNetns();
    await ns.nft(['-f', '-'], TABLE);
    server = await startFixtureServer();
    server.route('/list', serveBody(`${LIST.join('\n')}\n`));
    dir = mkdtempSync(join(tmpdir(), 'us-sync-oneshot-'));
    configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        stateDir: join(dir, 'state'),
        lists: [{ name: 'vpn', sources: [{ url: server.url('/list'), format: 'lines', contains: 'ips' }], nft: { family: 'inet', table: 'global', set4: 'v4', set6: 'v6', netns: ns.name } }],
      }),
    );
  });
  after(async () => {
    await server?.close();
    await ns?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('first run fills the sets, reading them back first', async () => {
    const out = await sync();
    assert.deepEqual(
      setLines(out).map((l) => /read back from the kernel/.test(l)),
      [true, true],
      out,
    );
    assert.ok(await has('v4', '1.2.3.4'));
    assert.ok(await has('v6', '2a00:1450::1'));
  });

  test('second run on unchanged data: noop, nothing read back', async () => {
    const out = await sync();
    const lines = setLines(out);
    assert.equal(lines.length, 2, out);
    for (const l of lines) {
      assert.match(l, /: noop, added 0, removed 0/);
      assert.match(l, /kernel unchanged since the last sync/);
    }
  });

  test('a hand-made change in the namespace: the next run reads back and removes it', async () => {
    await ns.nft(['add', 'element', 'inet', 'global', 'v4', '{ 10.9.9.9 }']);
    const out = await sync();
    const v4 = setLines(out).find((l) => l.includes('inet global v4'));
    assert.match(v4 ?? '', /diff, added 0, removed 1, .*read back from the kernel/, out);
    assert.equal(await has('v4', '10.9.9.9'), false);
    assert.ok(await has('v4', '5.6.7.8'));
    // …and the run after it is a noop from the record again.
    assert.match(setLines(await sync()).join('\n'), /noop.*kernel unchanged since the last sync/);
  });

  test('a deleted and re-created namespace is never taken for the old one', async () => {
    ipSync(['netns', 'del', ns.name]);
    ipSync(['netns', 'add', ns.name]);
    await ns.nft(['-f', '-'], TABLE);
    // Commit until the new namespace is at the generation the record names: only its cookie tells them apart.
    const recorded = await readRecord(recordPath(join(dir, 'state', 'set-sync'), ns.name));
    assert.equal(recorded.kind, 'ok');
    const want = recorded.kind === 'ok' ? recorded.record.stamp.generation : 0;
    for (let i = 0; (await generationOf(ns.name)) < want; i++) await ns.nft(['add', 'table', 'inet', `pad${i}`]);
    assert.equal(await generationOf(ns.name), want);
    const out = await sync();
    assert.deepEqual(
      setLines(out).map((l) => /read back from the kernel/.test(l)),
      [true, true],
      out,
    );
    assert.ok(await has('v4', '31.51.100.1'));
    assert.ok(await has('v6', '2a00:1450::1'));
  });
});
