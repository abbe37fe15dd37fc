import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLearn } from '../../src/learner/dnstap-ingest.js';
import { LearnedStore } from '../../src/learner/learned-store.js';
import { ListMatchers } from '../../src/learner/list-matchers.js';
import { lookup } from '../../src/learner/lookup.js';
import { createLearnerMetrics } from '../../src/learner/metrics.js';
import { emptyRangeSet, parseAddress } from '../../src/lib/ip-prefix/index.js';
import type { NftBackend } from '../../src/lib/nft/nft-backend.js';
import { createLearnedSets } from '../../src/set-sync/learned-sets.js';
import { learningList } from '../helpers/learned-sets-stub.js';

/**
 * A learned element has one clock: set-sync's record of what it told the kernel. The learner's
 * store keeps what was learned and why, and shows (and persists, and expires by) set-sync's
 * expiry — so a write by another path (a second list sharing the set, a removal) is what the
 * store reports, not a copy of the expiry it computed when it learned the address.
 */

const logger = pino({ level: 'silent' });
const acceptingBackend: NftBackend = {
  apply: async () => undefined,
  describeSet: async () => ({ kind: 'ok', type: 'ipv4_addr', flags: ['timeout'], autoMerge: false }),
  listSet: async () => ({ kind: 'missing', what: 'set' }),
  monitor: (o) => {
    o.onState?.('up');
    return { stop: async () => undefined };
  },
};

function setup() {
  let now = 1_000_000_000;
  const learnedSets = createLearnedSets({ logger, registry: new Registry(), backend: acceptingBackend, batchMs: 0, now: () => now });
  const matchers = new ListMatchers([learningList], { minTtl: 300, maxTtl: 86_400 });
  matchers.setModel('vpn', { ipv4: emptyRangeSet('ipv4'), ipv6: emptyRangeSet('ipv6'), domains: ['example.com'] });
  const store = new LearnedStore('/nonexistent', (list, family) => {
    const t = matchers.get(list)?.target;
    return t === undefined ? undefined : learnedSets.expiryReader(t, family);
  });
  const learn = createLearn({ learnedSets, store, metrics: createLearnerMetrics(new Registry()), logger });
  const list = matchers.get('vpn');
  const target = list?.target;
  assert.ok(list && target);
  const words = parseAddress('31.0.113.7')?.words;
  assert.ok(words);
  return { learnedSets, store, matchers, learn, list, target, words, now: () => now, advance: (ms: number) => (now += ms) };
}

test("the store shows set-sync's expiry: a longer write by another path is what lookup reports", async () => {
  const s = setup();
  assert.equal(await s.learn(s.list, { family: 'ipv4', address: '31.0.113.7', words: s.words, ttl: 300 }, 'www.example.com', performance.now()), 'learned');
  const at = s.now();
  const shown = () => lookup('www.example.com', { matchers: s.matchers, store: s.store });
  assert.deepEqual(shown(), {
    kind: 'name',
    name: 'www.example.com',
    matches: [{ list: 'vpn', entry: 'example.com', source: 'registry', learns: true }],
    learned: [{ list: 'vpn', address: '31.0.113.7', expires: new Date(at + 300_000).toISOString() }],
  });
  // A second list sharing the set (or a proactive resolution) refreshes the element for an hour.
  s.advance(200_000);
  assert.deepEqual(await s.learnedSets.submit(s.target, 'ipv4', '31.0.113.7', 3600), { kind: 'applied', refreshed: true });
  const r = shown();
  assert.equal(r.kind, 'name');
  assert.deepEqual(r.kind === 'name' ? r.learned.map((l) => l.expires) : [], [new Date(s.now() + 3_600_000).toISOString()]);
  // Past the store's own 300 s the row is still there: the element is in the kernel for the hour.
  s.advance(200_000);
  assert.equal(s.store.expire(), 0);
  assert.deepEqual(
    s.store.counts().map((c) => c.count),
    [1],
  );
  await s.learnedSets.stop();
});

test('an element set-sync removed leaves the store at the next expire, whatever the store computed', async () => {
  const s = setup();
  await s.learn(s.list, { family: 'ipv4', address: '31.0.113.7', words: s.words, ttl: 3600 }, 'www.example.com', performance.now());
  assert.equal(s.store.size, 1);
  assert.deepEqual(await s.learnedSets.remove(s.target, 'ipv4', '31.0.113.7'), { kind: 'applied', refreshed: false });
  assert.deepEqual(s.store.byAddress('31.0.113.7'), []);
  assert.equal(s.store.expire(), 1);
  assert.equal(s.store.size, 0);
  await s.learnedSets.stop();
});
