import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createBackendSelector } from '../../src/local-names/backend-selector.js';
import type { BackendQuery, BackendResult, LocalResolver } from '../../src/local-names/resolver.js';

/** A backend whose lookups wait until `release` (or resolve at once), and that can go down. */
class Stub implements LocalResolver {
  up = true;
  readonly asked: BackendQuery[] = [];
  private readonly listeners = new Set<(up: boolean) => void>();
  private readonly waiting = new Set<(r: BackendResult) => void>();
  hold = false;
  constructor(readonly kind: 'avahi' | 'native') {}
  isUp = (): boolean => this.up;
  setUp(up: boolean): void {
    this.up = up;
    // As the Avahi connection does: in-flight browsers end `unavailable` when Avahi leaves.
    if (!up) for (const w of this.waiting) w({ kind: 'unavailable', reason: `${this.kind} down` });
    this.waiting.clear();
    for (const l of this.listeners) l(up);
  }
  onStateChange(l: (up: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  lookup(q: BackendQuery): Promise<BackendResult> {
    this.asked.push(q);
    if (!this.up) return Promise.resolve({ kind: 'unavailable', reason: 'down' });
    const answer: BackendResult = { kind: 'records', records: [{ name: q.name, type: 1, class: 1, ttl: 1, data: Uint8Array.from([this.kind === 'avahi' ? 1 : 2, 0, 0, 0]) }] };
    if (!this.hold) return Promise.resolve(answer);
    return new Promise((resolve) => this.waiting.add(resolve));
  }
  release(): void {
    for (const w of this.waiting) w({ kind: 'none' });
    this.waiting.clear();
  }
  async close(): Promise<void> {}
}

const query: BackendQuery = { name: 'printer.local.', type: 1, mode: 'first', timeoutMs: 1000, windowMs: 1000 };

function setup(avahiUp: boolean, settleMs = 0) {
  const avahi = new Stub('avahi');
  avahi.up = avahiUp;
  const native = new Stub('native');
  const selector = createBackendSelector({ preferred: avahi, fallback: native, logger: pino({ level: 'silent' }), settleMs });
  const switches: string[] = [];
  selector.onSwitch((to, from) => switches.push(`${from.kind}->${to.kind}`));
  return { avahi, native, selector, switches };
}

test('Avahi while it is up, native otherwise, switching both ways live', async () => {
  const { avahi, native, selector, switches } = setup(false);
  assert.equal(selector.kind, 'native');
  await selector.lookup(query);
  assert.equal(native.asked.length, 1);
  avahi.setUp(true);
  assert.equal(selector.kind, 'avahi');
  await selector.lookup(query);
  assert.equal(avahi.asked.length, 1);
  avahi.setUp(false);
  assert.equal(selector.kind, 'native');
  assert.deepEqual(switches, ['native->avahi', 'avahi->native']);
});

test('Avahi that appears takes over only once settled; until then native answers; Avahi up at start is used at once', async () => {
  const { avahi, native, selector, switches } = setup(false, 80);
  avahi.setUp(true);
  assert.equal(selector.kind, 'native', 'a fresh avahi-daemon is not asked yet');
  const r = await selector.lookup(query);
  assert.equal(r.kind === 'records' && r.records[0]?.data[0], 2, 'answered by native while Avahi settles');
  assert.equal(native.asked.length, 1);
  assert.equal(avahi.asked.length, 0);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(selector.kind, 'avahi');
  assert.deepEqual(switches, ['native->avahi']);
  await selector.lookup(query);
  assert.equal(avahi.asked.length, 1);
  // Leaving hands over at once; coming back settles again.
  avahi.setUp(false);
  assert.equal(selector.kind, 'native');
  avahi.setUp(true);
  assert.equal(selector.kind, 'native');
  await selector.close();
  assert.equal(setup(true, 80).selector.kind, 'avahi', 'up at start: no wait');
});

test('Avahi that leaves while it settles never takes over; with native down it takes over at once', async () => {
  const a = setup(false, 50);
  a.avahi.setUp(true);
  a.avahi.setUp(false);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(a.selector.kind, 'native');
  assert.deepEqual(a.switches, []);
  const b = setup(false, 50);
  b.native.setUp(false);
  b.avahi.setUp(true);
  assert.equal(b.selector.kind, 'avahi', 'nothing else answers: no reason to wait');
  const c = setup(false, 50);
  c.avahi.setUp(true);
  c.native.setUp(false);
  assert.equal(c.selector.kind, 'avahi', 'native went away while Avahi settled');
  c.native.setUp(true);
  assert.equal(c.selector.kind, 'avahi', 'and Avahi keeps it');
});

test('a lookup in flight on native when Avahi appears finishes on native', async () => {
  const { avahi, native, selector } = setup(false);
  native.hold = true;
  const pending = selector.lookup(query);
  avahi.setUp(true);
  native.release();
  assert.deepEqual(await pending, { kind: 'none' });
  assert.equal(avahi.asked.length, 0);
});

test('a lookup in flight on Avahi when it goes away is retried on native with the time left', async () => {
  const { avahi, native, selector } = setup(true);
  avahi.hold = true;
  const pending = selector.lookup(query);
  await new Promise((r) => setTimeout(r, 30));
  avahi.setUp(false);
  const r = await pending;
  assert.equal(r.kind, 'records');
  assert.equal(r.kind === 'records' && r.records[0]?.data[0], 2, 'answered by native');
  const retried = native.asked[0];
  assert.ok(retried && retried.timeoutMs <= 975 && retried.timeoutMs > 900, `time left passed on: ${retried?.timeoutMs}`);
});

test('a lookup that loses Avahi at its deadline still gets a minimum budget on native, not SERVFAIL', async () => {
  const { avahi, native, selector } = setup(true);
  avahi.hold = true;
  const pending = selector.lookup({ ...query, timeoutMs: 60, windowMs: 60 });
  await new Promise((r) => setTimeout(r, 55));
  avahi.setUp(false);
  const r = await pending;
  assert.equal(r.kind, 'records', 'answered by native');
  const retried = native.asked[0];
  assert.ok(retried && retried.timeoutMs >= 300 && retried.windowMs === 60, `budget on native: ${JSON.stringify(retried)}`);
});

test('unavailable with nothing to switch to stays unavailable; the state follows the active backend', async () => {
  const { avahi, native, selector } = setup(true);
  const states: boolean[] = [];
  selector.onStateChange((up) => states.push(up));
  native.up = false;
  avahi.hold = true;
  const pending = selector.lookup(query);
  avahi.setUp(false);
  assert.equal((await pending).kind, 'unavailable');
  assert.equal(selector.isUp(), false);
  native.setUp(true);
  assert.equal(selector.isUp(), true);
  assert.deepEqual(states, [false, true]);
});
