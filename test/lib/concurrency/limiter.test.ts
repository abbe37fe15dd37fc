import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimiter } from '../../../src/lib/concurrency/limiter.js';

test('limiter: priority waiters go first; reserved slots are never given to normal work', async () => {
  const l = new ConcurrencyLimiter(3, 10, 1);
  const normal = await Promise.all([l.acquire(), l.acquire()]);
  assert.ok(normal.every((r) => r !== undefined));
  const third: Array<string> = [];
  void l.acquire().then((r) => (third.push('normal'), r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(third, [], 'the third slot is reserved: normal work waits');
  const p = await l.acquire(undefined, true);
  assert.ok(p, 'priority takes the reserved slot at once');
  assert.equal(l.activeCount, 3);

  // Full: a priority waiter queued after a normal one is still granted first.
  const order: string[] = [];
  void l.acquire(undefined, true).then((r) => (order.push('priority'), r));
  normal[0]?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['priority']);
  assert.deepEqual(third, []);
  p();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(third, [], 'the freed slot is the reserved one again');
  normal[1]?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(third, ['normal']);
});

test('limiter: each lane has its own queue bound; abort leaves the queue', async () => {
  const l = new ConcurrencyLimiter(1, 1, 0);
  const held = await l.acquire();
  const ac = new AbortController();
  const queued = l.acquire(ac.signal);
  assert.equal(await l.acquire(), undefined, 'normal queue full');
  const pq = l.acquire(undefined, true);
  assert.equal(l.queuedCount, 2);
  ac.abort();
  assert.equal(await queued, undefined);
  held?.();
  const granted = await pq;
  assert.ok(granted);
  assert.equal(l.queuedCount, 0);
});
