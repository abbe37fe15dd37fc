import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createListenRetry, type ListenAddress } from '../../src/dns-front/listen-retry.js';

/**
 * The retry of listen addresses no interface holds yet, with a bind that fails as the kernel does
 * (EADDRNOTAVAIL) until the test says the address is there. The real bind in a namespace where the
 * address appears late is test/integration/front-late-address.test.ts.
 */

const logger = pino({ level: 'silent' });
const addr = (host: string): ListenAddress => ({ spec: `${host}:53`, host, port: 53 });
const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`bind ${code}`), { code });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeKernel(initially: readonly string[]) {
  const there = new Set(initially);
  const bound: string[] = [];
  const tries: { host: string; at: number }[] = [];
  return {
    there,
    bound,
    tries,
    bind: async (a: ListenAddress): Promise<void> => {
      tries.push({ host: a.host, at: performance.now() });
      if (a.host === 'in-use') throw errno('EADDRINUSE');
      if (!there.has(a.host)) throw errno('EADDRNOTAVAIL');
      bound.push(a.host);
    },
  };
}

test('a missing address does not fail the start: the others are bound, it is pending and retried with backoff up to maxMs', async () => {
  const k = fakeKernel(['10.0.0.1']);
  const late: [string, number][] = [];
  const r = createListenRetry({
    addresses: [addr('10.0.0.1'), addr('10.0.0.9')],
    bind: k.bind,
    onLateBind: (a, n) => late.push([a.spec, n]),
    logger,
    firstMs: 20,
    maxMs: 80,
    pollMs: 10_000,
    present: () => false,
  });
  await r.start();
  assert.deepEqual(k.bound, ['10.0.0.1']);
  assert.deepEqual(r.pending(), ['10.0.0.9:53']);
  await sleep(400);
  const at = k.tries.filter((t) => t.host === '10.0.0.9').map((t) => t.at);
  const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
  // 20, 40, 80, 80 … ms apart (timers fire late under load, never early).
  assert.ok(gaps.length >= 3, `retried: ${gaps.map(Math.round).join(', ')}`);
  assert.ok(
    gaps.every((g, i) => g >= Math.min(80, 20 * 2 ** i) - 2),
    `backoff: ${gaps.map(Math.round).join(', ')}`,
  );
  assert.ok((gaps[1] as number) > (gaps[0] as number) && gaps.slice(2).every((g) => g < 80 + 60), `doubling, then capped: ${gaps.map(Math.round).join(', ')}`);
  k.there.add('10.0.0.9');
  await sleep(150);
  assert.deepEqual(k.bound, ['10.0.0.1', '10.0.0.9']);
  assert.deepEqual(r.pending(), []);
  assert.equal(late.length, 1);
  assert.equal(late[0]?.[0], '10.0.0.9:53');
  const n = k.tries.length;
  await sleep(200);
  assert.equal(k.tries.length, n, 'no attempts once bound');
  await r.stop();
});

test('an address that appears on an interface is bound at the next poll, not at the end of a long backoff', async () => {
  const k = fakeKernel([]);
  const r = createListenRetry({ addresses: [addr('10.0.0.9')], bind: k.bind, onLateBind: () => undefined, logger, firstMs: 60_000, maxMs: 60_000, pollMs: 20, present: (h) => k.there.has(h) });
  await r.start();
  assert.deepEqual(r.pending(), ['10.0.0.9:53']);
  await sleep(100);
  assert.equal(k.tries.length, 1, 'not there: no attempt until the backoff ends');
  k.there.add('10.0.0.9');
  await sleep(150);
  assert.deepEqual(k.bound, ['10.0.0.9']);
  assert.deepEqual(r.pending(), []);
  await r.stop();
});

test('stop() cancels the retries and the poll: no attempt after it', async () => {
  const k = fakeKernel([]);
  const r = createListenRetry({ addresses: [addr('10.0.0.9'), addr('10.0.0.8')], bind: k.bind, onLateBind: () => undefined, logger, firstMs: 10, maxMs: 10, pollMs: 10, present: () => true });
  await r.start();
  await sleep(60);
  assert.ok(k.tries.length > 2, 'retrying');
  await r.stop();
  const n = k.tries.length;
  await sleep(100);
  assert.equal(k.tries.length, n);
  assert.deepEqual(r.pending(), []);
});

test('any other bind error (EADDRINUSE, EACCES) still refuses the start', async () => {
  const k = fakeKernel(['10.0.0.1']);
  const r = createListenRetry({ addresses: [addr('10.0.0.1'), addr('10.0.0.9'), addr('in-use')], bind: k.bind, onLateBind: () => undefined, logger, firstMs: 10 });
  await assert.rejects(r.start(), { code: 'EADDRINUSE' });
  await r.stop();
  const n = k.tries.length;
  await sleep(60);
  assert.equal(k.tries.length, n, 'the pending retry was cancelled by stop()');
});
