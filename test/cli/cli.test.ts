import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';

const main = join(repoRoot(), 'dist', 'src', 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 20_000 });

test('--help prints usage and exits 0; no command is a usage error', () => {
  const help = cli('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /unbound-sidecar run \[--config FILE\]/);
  assert.equal(cli().status, 2);
  const bad = cli('frobnicate');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

test('check-config: OK for the example, a clear error with the JSON path for a bad file', () => {
  assert.equal(cli('check-config', join(repoRoot(), 'config', 'example.json')).status, 0);
  const dir = mkdtempSync(join(tmpdir(), 'us-cli-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ mdns: { backend: 'bonjour', timeoutMs: 'soon' } }));
  const r = cli('check-config', bad);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /mdns\.backend: .*; mdns\.timeoutMs: .*\[CONFIG_INVALID\]/);
  writeFileSync(bad, '{ not json');
  assert.match(cli('check-config', bad).stderr, /not valid JSON/);
  assert.match(cli('check-config', join(dir, 'missing.json')).stderr, /cannot read .*missing\.json.*\[CONFIG_UNREADABLE\]/);
});

test('render unbound uses the configured zones and listen address', () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-cli-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ dns: { listen: ['127.0.0.1:5400'], zones: ['local.', '1.168.192.in-addr.arpa.'] } }));
  const r = cli('render', 'unbound', '--config', file);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /local-zone: "1\.168\.192\.in-addr\.arpa\." transparent/);
  assert.match(r.stdout, /forward-zone:\n {2}name: "1\.168\.192\.in-addr\.arpa\."\n {2}forward-addr: 127\.0\.0\.1@5400/);
});

test('run refuses a bad --listen override with the same validation', () => {
  const r = cli('run', '--listen', 'nowhere');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dns\.listen\[0\]: expected "host:port"/);
});

test("run with the metrics port taken: exit 2 and the listener's own message with [LISTEN_FAILED], as the README error table says", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'us-cli-'));
    const file = join(dir, 'c.json');
    // `avahi` on a bus that does not exist: nothing goes out of this machine's interfaces.
    writeFileSync(file, JSON.stringify({ dns: { listen: ['127.0.0.1:0'] }, metrics: { listen: `127.0.0.1:${port}` }, mdns: { backend: 'avahi' } }));
    const r = spawnSync(process.execPath, [main, 'run', '--config', file], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/unbound-sidecar-test-bus' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^unbound-sidecar: http: cannot listen on 127\\.0\\.0\\.1:${port}: .*\\[LISTEN_FAILED\\]\\n$`, 'm'));
    assert.doesNotMatch(r.stderr, /unexpected error/);
  } finally {
    taken.close();
  }
});
