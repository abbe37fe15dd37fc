import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSystemdNotifier, oneLine, watchdogIntervalMs } from '../../../src/lib/systemd/notify.js';

/**
 * Against a real AF_UNIX datagram socket, as PID 1 would hold it. Node can bind neither end of one
 * (the reason notify.ts spawns systemd-notify), so python3 receives: it prints each datagram as a
 * JSON line and closes the fd that BARRIER=1 carries, which is how systemd-notify learns PID 1 has
 * read the message (sd_notify_barrier(3)).
 */
const RECEIVER = `
import socket, sys, os, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("bound"), flush=True)
while True:
    msg, fds, _, _ = socket.recv_fds(s, 65536, 16)
    for fd in fds: os.close(fd)
    print(json.dumps(msg.decode()), flush=True)
`;

interface Receiver { path: string; messages: string[]; next(match: RegExp, timeoutMs?: number): Promise<string>; close(): void }

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function receiver(t: TestContext): Promise<Receiver | undefined> {
  const missing = ['python3', 'systemd-notify'].filter((c) => !have(c));
  if (missing.length > 0) {
    if (process.env.CI === 'true') assert.fail(`notify test needs ${missing.join(', ')}`);
    t.skip(`${missing.join(', ')} not installed`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'us-notify-'));
  const path = join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => {
    messages.push(JSON.parse(l) as string);
    for (const w of waiters) w();
  });
  const next = (match: RegExp, timeoutMs = 5000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const i = messages.findIndex((m) => match.test(m));
        if (i < 0) return;
        const [m] = messages.splice(i, 1);
        waiters.delete(check);
        clearTimeout(timer);
        resolve(m ?? '');
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no datagram matching ${match} within ${timeoutMs} ms (got ${JSON.stringify(messages)})`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  await next(/^bound$/);
  return {
    path,
    messages,
    next,
    close() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('READY, STATUS (one line), WATCHDOG at half WATCHDOG_USEC, STOPPING reach the socket', async (t) => {
  const rx = await receiver(t);
  if (!rx) return;
  const errors: string[] = [];
  const notifier = createSystemdNotifier({
    env: { PATH: process.env.PATH, NOTIFY_SOCKET: rx.path, WATCHDOG_USEC: '300000', WATCHDOG_PID: String(process.pid) },
    onError: (m) => void errors.push(m),
  });
  try {
    assert.equal(notifier.enabled, true);
    await notifier.ready('listening on 127.0.0.1:5335\nMAINPID=1');
    // systemd-notify waited for the barrier, so the message is already there.
    assert.equal(await rx.next(/READY=1/, 100), 'READY=1\nSTATUS=listening on 127.0.0.1:5335 MAINPID=1');

    const t0 = Date.now();
    notifier.startWatchdog();
    await rx.next(/^WATCHDOG=1$/);
    await rx.next(/^WATCHDOG=1$/);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 2000, `two pings at ~150 ms intervals took ${elapsed} ms`);

    await notifier.reloading();
    await rx.next(/^RELOADING=1$/, 100);
    await notifier.stopping();
    await rx.next(/^STOPPING=1$/, 100);
    rx.messages.length = 0;
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(rx.messages.filter((m) => m !== 'BARRIER=1'), [], 'no watchdog pings after STOPPING');
    assert.deepEqual(errors, []);
  } finally {
    notifier.close();
    rx.close();
  }
});

test('a wedged daemon stops pinging: alive() false skips WATCHDOG=1', async (t) => {
  const rx = await receiver(t);
  if (!rx) return;
  const notifier = createSystemdNotifier({ env: { PATH: process.env.PATH, NOTIFY_SOCKET: rx.path, WATCHDOG_USEC: '100000' } });
  try {
    notifier.startWatchdog(() => false);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rx.messages, []);
  } finally {
    notifier.close();
    rx.close();
  }
});

test('without NOTIFY_SOCKET everything is a no-op; a child does not ping for its parent', async () => {
  const errors: string[] = [];
  const n = createSystemdNotifier({ env: {}, command: '/nonexistent/systemd-notify', onError: (m) => void errors.push(m) });
  assert.equal(n.enabled, false);
  await n.ready('x');
  await n.status('y');
  await n.stopping();
  n.startWatchdog();
  n.close();
  assert.deepEqual(errors, [], 'nothing was spawned');

  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
  assert.equal(watchdogIntervalMs({}, 42), undefined);
  assert.equal(oneLine('a\nb\r\n\tc'), 'a b c');
  assert.equal(oneLine('x'.repeat(500)).length, 200);
});

test('a failing systemd-notify is reported, not thrown', async () => {
  const errors: string[] = [];
  const n = createSystemdNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, command: '/nonexistent/systemd-notify', onError: (m) => void errors.push(m) });
  await n.ready();
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /^systemd-notify READY failed: /);
});
