import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { SidecarError } from '../../src/errors.js';
import { resolveConfigSchema } from '../../src/learner/config.js';
import { createLearn } from '../../src/learner/dnstap-ingest.js';
import { createLearner } from '../../src/learner/index.js';
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

test('a learned set missing at start: the start does not wait for it, the restored rows are kept until it appears and then written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-restore-held-'));
  const state = { missing: true };
  const written: string[] = [];
  const backend: NftBackend = {
    ...acceptingBackend,
    apply: async (commands) => {
      if (state.missing) throw new SidecarError('NFT_APPLY_FAILED', 'nft', 'No such file or directory');
      for (const c of commands) written.push(typeof c === 'string' ? c : [...c].join(''));
    },
    describeSet: async () => (state.missing ? { kind: 'missing', what: 'set' } : { kind: 'ok', type: 'ipv4_addr', flags: ['timeout'], autoMerge: false }),
  };
  const learnedSets = createLearnedSets({ logger, registry: new Registry(), backend, batchMs: 0 });
  try {
    const inAnHour = Math.ceil(Date.now() / 1000) + 3600;
    writeFileSync(join(dir, 'learned.json'), JSON.stringify({ version: 1, entries: [['vpn', '31.0.113.7', inAnHour, 'www.example.com', 'example.com']] }));
    const learner = createLearner({
      config: { resolve: resolveConfigSchema.parse({ enabled: false }), admin: { socket: join(dir, 'admin.sock') }, lists: [learningList] },
      stateDir: dir,
      logger,
      registry: new Registry(),
      learnedSets,
    });
    const started = await Promise.race([learner.start().then(() => 'started'), new Promise((r) => setTimeout(() => r('hung'), 5000))]);
    assert.equal(started, 'started', 'the start does not wait for a set that is missing');
    // Held, not lost: the row stays (lookup shows it) through housekeeping and the save.
    const rows = () => {
      const r = learner.lookup('31.0.113.7');
      return r.kind === 'address' ? r.learned.map((l) => l.name) : [];
    };
    assert.deepEqual(rows(), ['www.example.com']);
    assert.deepEqual(
      learner.status().learned.map((c) => c.count),
      [1],
    );
    state.missing = false; // the set appears: set-sync's retry writes the held element
    await learnedSets.flush();
    await new Promise((r) => setTimeout(r, 1200)); // the held element's retry backoff (500 ms, doubled)
    await learnedSets.flush();
    assert.ok(
      written.some((c) => c.includes('31.0.113.7')),
      'written once the set exists',
    );
    await learner.stop();
    const saved = JSON.parse(readFileSync(join(dir, 'learned.json'), 'utf8')) as { entries: unknown[][] };
    assert.deepEqual(
      saved.entries.map((e) => e[1]),
      ['31.0.113.7'],
    );
  } finally {
    await learnedSets.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
