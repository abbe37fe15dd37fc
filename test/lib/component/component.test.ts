import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ComponentStartError, startInOrder, type Component } from '../../../src/lib/component/index.js';

function parts(log: string[], failStart?: string, failStop?: string): Component[] {
  return ['a', 'b', 'c', 'd'].map((name) => ({
    name,
    async start() {
      log.push(`start ${name}`);
      if (name === failStart) throw new Error(`${name} broke`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (name === failStop) throw new Error(`${name} would not stop`);
    },
    status: () => name,
  }));
}

test('components start in the declared order and stop in reverse, once', async () => {
  const log: string[] = [];
  const up = await startInOrder(parts(log));
  await Promise.all([up.stop(), up.stop()]);
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'start d', 'stop d', 'stop c', 'stop b', 'stop a']);
});

test('a failed start stops what started (the failed one included) in reverse and names the component', async () => {
  const log: string[] = [];
  await assert.rejects(startInOrder(parts(log, 'c')), (err: unknown) => err instanceof ComponentStartError && err.component === 'c' && /c: c broke/.test(err.message));
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
});

test('a stop that throws does not keep the others up; it is reported', async () => {
  const log: string[] = [];
  const failed: string[] = [];
  const up = await startInOrder(parts(log, undefined, 'c'), (name) => failed.push(name));
  await up.stop();
  assert.deepEqual(
    log.filter((l) => l.startsWith('stop')),
    ['stop d', 'stop c', 'stop b', 'stop a'],
  );
  assert.deepEqual(failed, ['c']);
});
