import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialQueue, SerialQueues } from '../../../src/lib/concurrency/index.js';

/** A promise and the functions that settle it. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('serial queue: jobs run one at a time in submission order, each caller gets its own result', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let running = 0;
  const job = (name: string, ms: number) => async () => {
    running++;
    assert.equal(running, 1, `${name} overlaps another job`);
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${name}`);
    running--;
    return name.toUpperCase();
  };
  const results = await Promise.all([q.run(job('a', 15)), q.run(job('b', 1)), q.run(job('c', 5))]);
  assert.deepEqual(results, ['A', 'B', 'C']);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(q.busy, false);
});

test('serial queue: a job that rejects or throws fails only its caller; the next job still runs', async () => {
  const q = new SerialQueue();
  const ran: string[] = [];
  const a = q.run(async () => {
    ran.push('a');
    throw new Error('a failed');
  });
  const b = q.run(() => {
    ran.push('b');
    throw new Error('b threw synchronously');
  });
  const c = q.run(async () => (ran.push('c'), 'c'));
  await assert.rejects(a, /a failed/);
  await assert.rejects(b, /b threw synchronously/);
  assert.equal(await c, 'c');
  assert.deepEqual(ran, ['a', 'b', 'c']);
  // A dropped rejected result is not an unhandled rejection (the test runner would fail on one).
  void q.run(() => Promise.reject(new Error('nobody listens')));
  await q.idle();
  await turn();
});

test('serial queue: a job submitted to an idle queue starts in the caller turn; later ones wait their turn', async () => {
  const q = new SerialQueue();
  const gate = deferred();
  let started = false;
  void q.run(async () => {
    started = true;
    await gate.promise;
  });
  assert.equal(started, true, 'started synchronously');
  assert.equal(q.busy, true);
  let second = false;
  void q.run(() => (second = true));
  await turn();
  assert.equal(second, false, 'waits while the first runs');
  gate.resolve();
  await q.idle();
  assert.equal(second, true);
  assert.equal(q.busy, false);
});

test('serial queue: a job submitted from inside a running job waits for it', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let inner: Promise<void> | undefined;
  await q.run(async () => {
    inner = q.run(() => void log.push('inner'));
    await turn();
    log.push('outer done');
  });
  await inner;
  assert.deepEqual(log, ['outer done', 'inner']);
});

test('serial queue: idle() settles after every job submitted before it, never rejects, and not for later ones', async () => {
  const q = new SerialQueue();
  await q.idle(); // idle from the start
  const first = deferred();
  const done: string[] = [];
  void q.run(() => first.promise.then(() => void done.push('first')));
  void q.run(() => Promise.reject(new Error('x'))).catch(() => undefined);
  const idle = q.idle();
  const later = deferred();
  void q.run(() => later.promise.then(() => void done.push('later')));
  let idled = false;
  void idle.then(() => (idled = true));
  await turn();
  assert.equal(idled, false);
  first.resolve();
  await idle;
  assert.deepEqual(done, ['first'], 'idle() does not wait for a job submitted after it');
  assert.equal(q.busy, true);
  later.resolve();
  await q.idle();
  assert.deepEqual(done, ['first', 'later']);
});

test('serial queue latest: while one job runs only the newest value waits; replaced callers get its result', async () => {
  const q = new SerialQueue();
  const gate = deferred();
  const handled: number[] = [];
  const handler = async (v: number): Promise<string> => {
    handled.push(v);
    if (v === 1) await gate.promise;
    return `applied ${v}`;
  };
  const p1 = q.latest('list', 1, handler);
  assert.deepEqual(handled, [1], 'an idle queue starts the first value at once');
  const p2 = q.latest('list', 2, handler);
  const p3 = q.latest('list', 3, handler);
  const p4 = q.latest('list', 4, handler);
  const other = q.latest('other', 10, handler); // another slot keeps its own value, in queue order
  await turn();
  assert.deepEqual(handled, [1]);
  gate.resolve();
  assert.deepEqual(await Promise.all([p1, p2, p3, p4, other]), ['applied 1', 'applied 4', 'applied 4', 'applied 4', 'applied 10']);
  assert.deepEqual(handled, [1, 4, 10], 'values 2 and 3 were replaced before their turn');
  // A value submitted while its slot's job runs (no longer waits) is a new job after it.
  const slow = deferred();
  const seen: string[] = [];
  const a = q.latest('s', 'a', async (v) => (seen.push(v), await slow.promise, v));
  const b = q.latest('s', 'b', async (v) => (seen.push(v), v));
  slow.resolve();
  assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
  assert.deepEqual(seen, ['a', 'b']);
});

test('serial queue latest: a failed run rejects every caller it covered; the next value still runs', async () => {
  const q = new SerialQueue();
  const gate = deferred();
  const first = q.run(() => gate.promise);
  const a = q.latest('x', 'a', (v) => Promise.reject(new Error(`refused ${v}`)));
  const b = q.latest('x', 'b', (v) => Promise.reject(new Error(`refused ${v}`)));
  gate.resolve();
  await first;
  await assert.rejects(a, /refused b/);
  await assert.rejects(b, /refused b/);
  assert.equal(await q.latest('x', 'c', (v) => v), 'c');
});

test('serial queues: one queue per key, independent of each other; idle(key) and idle()', async () => {
  const qs = new SerialQueues();
  const gateA = deferred();
  const log: string[] = [];
  const a1 = qs.run('a', () => gateA.promise.then(() => void log.push('a1')));
  const a2 = qs.run('a', () => void log.push('a2'));
  const b1 = qs.run('b', () => void log.push('b1'));
  await b1;
  assert.deepEqual(log, ['b1'], 'b does not wait for a');
  assert.equal(qs.busy('a'), true);
  assert.equal(qs.busy('b'), false);
  await qs.idle('b');
  await qs.idle('never used');
  let allIdle = false;
  const all = qs.idle().then(() => (allIdle = true));
  await turn();
  assert.equal(allIdle, false, 'idle() waits for a');
  gateA.resolve();
  await all;
  await Promise.all([a1, a2]);
  assert.deepEqual(log, ['b1', 'a1', 'a2']);
  assert.equal(qs.busy('a'), false);
  // Keyed newest-wins: slots are per key.
  const gate = deferred();
  void qs.run('t', () => gate.promise);
  const handled: string[] = [];
  const h = (v: string): string => (handled.push(v), v);
  const r = [qs.latest('t', 'l', 'old', h), qs.latest('t', 'l', 'new', h), qs.latest('u', 'l', 'u', h)];
  gate.resolve();
  assert.deepEqual(await Promise.all(r), ['new', 'new', 'u']);
  assert.deepEqual(handled, ['u', 'new']);
});
