/**
 * NfnlSocket deadlines with an injected slow off-thread send (the timer logic; the real kernel
 * part is in test/integration/nft-netlink.test.ts). The socket is a real NETLINK_NETFILTER socket
 * of this namespace; the stalled sends never reach the kernel here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netlinkUnavailable } from '../../../src/lib/libc/libc.js';
import { NfnlSocket, NfnlTimeout, stuckSends } from '../../../src/lib/nft/netlink/nfnl-socket.js';

const skip = netlinkUnavailable() ?? false;
const never = (ms: number) => (_fd: number, msg: Buffer) => new Promise<number>((r) => setTimeout(() => r(msg.length), ms));

test('a request past its deadline rejects on time, abandons its socket and closes it when the call returns', { skip }, async () => {
  const sock = NfnlSocket.open();
  const t0 = performance.now();
  await assert.rejects(sock.request(Buffer.alloc(20), { deadlineMs: 80, sendAsync: never(400) }), (e: unknown) => e instanceof NfnlTimeout && /within 80 ms; socket abandoned/.test(e.message));
  const ms = performance.now() - t0;
  assert.ok(ms >= 75 && ms < 300, `rejected after ${ms.toFixed(0)} ms`);
  assert.equal(sock.usable, false, 'never used again');
  assert.equal(stuckSends(), 1, 'the call is still running on the threadpool');
  await assert.rejects(sock.request(Buffer.alloc(20)), /socket closed/);
  await new Promise((r) => setTimeout(r, 450));
  assert.equal(stuckSends(), 0, 'counted out once it returned');
});

test('at most two sends stuck at once: a third request fails at once instead of taking another threadpool thread', { skip }, async () => {
  const stuck = [NfnlSocket.open(), NfnlSocket.open()].map((s) => s.request(Buffer.alloc(20), { deadlineMs: 30, sendAsync: never(300) }).catch((e: unknown) => e));
  for (const e of await Promise.all(stuck)) assert.ok(e instanceof NfnlTimeout);
  assert.equal(stuckSends(), 2);
  const t0 = performance.now();
  await assert.rejects(
    NfnlSocket.open().request(Buffer.alloc(20), { deadlineMs: 5000, sendAsync: never(10) }),
    (e: unknown) => e instanceof NfnlTimeout && /2 earlier requests are still stuck/.test(e.message),
  );
  assert.ok(performance.now() - t0 < 100, 'without waiting');
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(stuckSends(), 0);
});
