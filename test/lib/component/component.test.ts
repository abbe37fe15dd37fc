import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ComponentStartError, readinessChecks, startInOrder, statuses, type Component, type ComponentSet, type Statuses } from '../../../src/lib/component/index.js';

function parts(log: string[], failStart?: string, failStop?: string): ComponentSet {
  const part = (name: string): Component<string> => ({
    async start() {
      log.push(`start ${name}`);
      if (name === failStart) throw new Error(`${name} broke`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (name === failStop) throw new Error(`${name} would not stop`);
    },
    status: () => name,
  });
  return { a: part('a'), b: part('b'), c: part('c'), d: part('d') };
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

test('a component the config leaves out (undefined) neither starts nor stops; a failure after it still stops the rest in reverse', async () => {
  const log: string[] = [];
  const { a, c, d } = parts(log, 'd');
  await assert.rejects(startInOrder({ a, b: undefined, c, d }), (err: unknown) => err instanceof ComponentStartError && err.component === 'd');
  assert.deepEqual(log, ['start a', 'start c', 'start d', 'stop d', 'stop c', 'stop a']);
});

test('statuses: each declared component status() under its name, typed as that component returns it; undefined for one left out', () => {
  const components = {
    counter: { start: async () => undefined, stop: async () => undefined, status: () => ({ count: 3 }) },
    label: { start: async () => undefined, stop: async () => undefined, status: () => 'up' as const },
    absent: undefined as Component<{ gone: boolean }> | undefined,
  } satisfies ComponentSet;
  const s = statuses(components);
  // Typed, not unknown: these lines do not compile if the record loses the component's own types.
  const count: number = s.counter.count;
  const label: 'up' = s.label;
  const absent: { gone: boolean } | undefined = s.absent;
  assert.equal(count, 3);
  assert.equal(label, 'up');
  assert.equal(absent, undefined);
  assert.deepEqual(s, { counter: { count: 3 }, label: 'up', absent: undefined } satisfies Statuses<typeof components>);
});

test('readinessChecks: the checks of the components that have one, in the declared order', () => {
  const up = { start: async () => undefined, stop: async () => undefined, status: () => undefined };
  let dnsUp = false;
  const checks = readinessChecks({
    names: { ...up, readiness: { name: 'mdns', check: () => ({ kind: 'ready', detail: 'avahi up' }) } },
    quiet: up,
    absent: undefined,
    dns: { ...up, readiness: { name: 'dns', check: () => (dnsUp ? { kind: 'ready', detail: 'listening' } : { kind: 'not-ready', detail: 'not listening yet' }) } },
  });
  assert.deepEqual(
    checks.map((c) => c.name),
    ['mdns', 'dns'],
  );
  assert.deepEqual(checks[1]?.check(), { kind: 'not-ready', detail: 'not listening yet' });
  dnsUp = true;
  assert.deepEqual(checks[1]?.check(), { kind: 'ready', detail: 'listening' }, 'checked when asked, not when collected');
});
