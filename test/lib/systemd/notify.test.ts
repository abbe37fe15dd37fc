import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSystemdNotifier, oneLine, watchdogIntervalMs } from '../../../src/lib/systemd/notify.js';

/**
 * Against a real AF_UNIX datagram socket, as PID 1 would hold it (with SO_PASSCRED, as systemd
 * does: the sender's PID is what NotifyAccess=main checks). Node cannot bind one, so python3
 * receives: it prints each datagram as a JSON line with the sender's PID. A path starting with `@`
 * is bound in the abstract namespace.
 */
const RECEIVER = `
import socket, sys, os, json, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
p = sys.argv[1]
s.bind(("\\0" + p[1:]) if p.startswith("@") else p)
print(json.dumps({"m": "bound", "pid": 0}), flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS: pid = struct.unpack("iII", data[:12])[0]
    print(json.dumps({"m": msg.decode(), "pid": pid}), flush=True)
`;

interface Receiver {
  path: string;
  messages: string[];
  senders: number[];
  next(match: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function receiver(t: TestContext, abstract = false): Promise<Receiver | undefined> {
  const missing = ['python3'].filter((c) => !have(c));
  if (missing.length > 0) {
    if (process.env.CI === 'true') assert.fail(`notify test needs ${missing.join(', ')}`);
    t.skip(`${missing.join(', ')} not installed`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'us-notify-'));
  const path = abstract ? `@us-notify-${process.pid}-${Date.now()}` : join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const senders: number[] = [];
  const waiters = new Set<() => void>();
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => {
    const d = JSON.parse(l) as { m: string; pid: number };
    messages.push(d.m);
    if (d.m !== 'bound') senders.push(d.pid);
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
    senders,
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
    assert.equal(await rx.next(/READY=1/, 1000), 'READY=1\nSTATUS=listening on 127.0.0.1:5335 MAINPID=1');
    assert.deepEqual(rx.senders, [process.pid], 'sent by this process itself (NotifyAccess=main), not a helper');

    const t0 = Date.now();
    notifier.startWatchdog();
    await rx.next(/^WATCHDOG=1$/);
    await rx.next(/^WATCHDOG=1$/);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 2000, `two pings at ~150 ms intervals took ${elapsed} ms`);

    await notifier.reloading();
    await rx.next(/^RELOADING=1$/, 1000);
    await notifier.stopping();
    await rx.next(/^STOPPING=1$/, 1000);
    rx.messages.length = 0;
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(rx.messages, [], 'no watchdog pings after STOPPING');
    assert.ok(
      rx.senders.every((p) => p === process.pid),
      `senders ${rx.senders.join(',')}`,
    );
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
  const n = createSystemdNotifier({ env: {}, onError: (m) => void errors.push(m) });
  assert.equal(n.enabled, false);
  await n.ready('x');
  await n.status('y');
  await n.stopping();
  n.startWatchdog();
  n.close();
  assert.deepEqual(errors, [], 'nothing was sent');

  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
  assert.equal(watchdogIntervalMs({}, 42), undefined);
  assert.equal(oneLine('a\nb\r\n\tc'), 'a b c');
  assert.equal(oneLine('x'.repeat(500)).length, 200);
});

test('an abstract NOTIFY_SOCKET (@name) works too', async (t) => {
  const rx = await receiver(t, true);
  if (!rx) return;
  const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: rx.path } });
  try {
    await notifier.ready();
    assert.equal(await rx.next(/READY=1/, 1000), 'READY=1');
  } finally {
    notifier.close();
    rx.close();
  }
});

test('a socket nobody listens on is reported, not thrown', async () => {
  const errors: string[] = [];
  const n = createSystemdNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, onError: (m) => void errors.push(m) });
  await n.ready();
  n.close();
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /^sd_notify READY failed: sendto \/nonexistent\/notify\.sock: ENOENT/);
});
