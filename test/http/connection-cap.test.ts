import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildQuery, decode, tcpExchange } from '../dns-server/dns-test-client.js';

/**
 * Idle HTTP connections must not use up the process's file descriptors. The child runs the HTTP
 * listener and a DNS front under RLIMIT_NOFILE=256 (the daemon's unit has 8192; the ratio is
 * what matters) and gets more idle HTTP connections than that; DNS over TCP must still accept,
 * and an HTTP request must still be served at once.
 */

const NOFILE = 256;
const IDLE = 400;

let child: ChildProcess;
let ports = { dns: 0, http: 0 };
const idle: net.Socket[] = [];

before(async () => {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const script = fileURLToPath(new URL(`./fd-limited-server${ext}`, import.meta.url));
  // prlimit(1) execs node with the lower limit; fork() is spawn with an IPC channel on fd 3.
  child = fork(script, [], {
    execPath: 'prlimit',
    execArgv: [`--nofile=${NOFILE}:${NOFILE}`, '--', process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--test'))],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  ports = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as typeof ports));
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
});

after(() => {
  for (const s of idle) s.destroy();
  if (child.exitCode === null) child.kill();
});

function fds(): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve((m as { fds: number }).fds));
    child.send('fds');
  });
}

test(`${IDLE} idle HTTP connections under RLIMIT_NOFILE=${NOFILE}: DNS over TCP still accepts, HTTP still serves`, { timeout: 30_000 }, async () => {
  for (let i = 0; i < IDLE; i++) {
    const s = net.connect(ports.http, '127.0.0.1');
    s.on('error', () => {});
    idle.push(s);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  const used = await fds();
  assert.ok(used < NOFILE - 64, `the child holds ${used} descriptors of ${NOFILE}`);

  const [reply] = await tcpExchange(ports.dns, [buildQuery({ id: 7, name: 'nope.local', type: 1 })], 1, 2000);
  assert.ok(reply, 'DNS over TCP answered');
  assert.equal(decode(reply).header.rcode, 3);

  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${ports.http}/metrics`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.ok(performance.now() - t0 < 1500, 'served at once, not after idle ones time out');
  assert.match(body, /unbound_sidecar_http_connections_closed_total\{reason="evicted"\} [1-9]/);
  assert.match(body, /unbound_sidecar_http_connections 6[0-4]\b/);
});
