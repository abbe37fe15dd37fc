import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLearnAnswer } from '../../src/learner/answer-learning.js';
import { createLearn } from '../../src/learner/dnstap-ingest.js';
import { LearnedStore } from '../../src/learner/learned-store.js';
import { ListMatchers } from '../../src/learner/list-matchers.js';
import { createLearnerMetrics } from '../../src/learner/metrics.js';
import { emptyRangeSet } from '../../src/lib/ip-prefix/index.js';
import type { LearnedOutcome } from '../../src/set-sync/index.js';
import { learningList, noKernel, stubLearnedSets } from '../helpers/learned-sets-stub.js';

/** learnAnswer, what the DNS front awaits: decided synchronously when nothing is listed, else a report once the sets answered. */

const logger = pino({ level: 'silent' });
const listCfg = learningList;

function wireName(n: string): number[] {
  return [
    ...n
      .split('.')
      .filter(Boolean)
      .flatMap((l) => [l.length, ...Buffer.from(l)]),
    0,
  ];
}
function response(q: string, rrs: Array<[string, number, number, number[]]>): Uint8Array {
  const out = [0, 1, 0x81, 0x80, 0, 1, 0, rrs.length, 0, 0, 0, 0, ...wireName(q), 0, 1, 0, 1];
  for (const [o, type, ttl, rd] of rrs) out.push(...wireName(o), 0, type, 0, 1, 0, 0, (ttl >>> 8) & 255, ttl & 255, 0, rd.length, ...rd);
  return new Uint8Array(out);
}

function setup(
  outcome: (addr: string) => LearnedOutcome | Promise<LearnedOutcome>,
  unavailable?: string,
  fresh: (addr: string) => boolean = () => false,
  timeLeftMs: (addr: string) => number = () => 0,
) {
  const m = new ListMatchers([listCfg], { minTtl: 300, maxTtl: 86_400 });
  m.setModel('vpn', { ipv4: emptyRangeSet('ipv4'), ipv6: emptyRangeSet('ipv6'), domains: ['example.com', 'xn--e1afmkfd.xn--p1ai'] });
  const submitted: string[] = [];
  const ttls: number[] = [];
  const sets = stubLearnedSets(
    { kind: 'no-set' },
    {
      submit: async (_t, _f, addr, ttl) => (submitted.push(addr), ttls.push(ttl), outcome(addr)),
      fresh: (_t, _f, addr) => fresh(addr),
      timeLeftMs: (_t, _f, addr) => timeLeftMs(addr),
      unavailable: () => unavailable,
    },
  );
  const metrics = createLearnerMetrics(new Registry());
  const learn = createLearn({ learnedSets: sets, store: new LearnedStore('/nonexistent', noKernel), metrics, logger });
  const learnAnswer = createLearnAnswer({ matchers: m, learn, unavailable: (l, f) => (l.target ? sets.unavailable(l.target, f) : undefined) });
  return { learnAnswer, submitted, ttls, matchers: m };
}

test('unlisted, address-less, bogon-only-unlisted and malformed answers: undefined (nothing to wait for)', () => {
  const { learnAnswer, submitted } = setup(() => ({ kind: 'applied', refreshed: false }));
  assert.equal(learnAnswer(response('other.net', [['other.net', 1, 300, [31, 0, 113, 1]]])), undefined);
  assert.equal(learnAnswer(response('www.example.com', [])), undefined);
  assert.equal(learnAnswer(new Uint8Array([1, 2, 3])), undefined);
  assert.deepEqual(submitted, []);
});

test('CNAME chain into an unlisted name and an IDN: every address learned; the report counts outcomes', async () => {
  let release: ((o: LearnedOutcome) => void) | undefined;
  const { learnAnswer, submitted } = setup((addr) => (addr === '31.0.113.6' ? new Promise((r) => (release = r)) : { kind: 'applied', refreshed: false }));
  const p = learnAnswer(
    response('www.example.com', [
      ['www.example.com', 5, 300, wireName('edge.cdn.net')],
      ['edge.cdn.net', 1, 20, [31, 0, 113, 5]],
      ['edge.cdn.net', 1, 20, [31, 0, 113, 6]],
      ['edge.cdn.net', 1, 20, [10, 0, 0, 1]],
    ]),
  );
  assert.ok(p);
  let settled = false;
  void p.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'waits for every address of the answer');
  release?.({ kind: 'applied', refreshed: false });
  const r = await p;
  assert.deepEqual(submitted, ['31.0.113.5', '31.0.113.6']);
  assert.deepEqual({ listed: r.listed, learned: r.learned, skipped: r.skipped }, { listed: 3, learned: 2, skipped: 1 }, '10.0.0.1 is a bogon');
  const idn = await learnAnswer(response('xn--e1afmkfd.xn--p1ai', [['xn--e1afmkfd.xn--p1ai', 28, 300, [0x20, 1, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]]]));
  assert.equal(idn?.learned, 1);
});

test('every listed address fresh in its set (set-sync says so synchronously): undefined — no Promise, no submit; one stale address: only it is awaited', async () => {
  const { learnAnswer, submitted } = setup(
    () => ({ kind: 'applied', refreshed: false }),
    undefined,
    (addr) => addr !== '31.0.113.9',
  );
  assert.equal(
    learnAnswer(
      response('a.example.com', [
        ['a.example.com', 1, 300, [31, 0, 113, 8]],
        ['a.example.com', 1, 300, [31, 0, 113, 7]],
      ]),
    ),
    undefined,
  );
  assert.deepEqual(submitted, []);
  const r = await learnAnswer(
    response('b.example.com', [
      ['b.example.com', 1, 300, [31, 0, 113, 8]],
      ['b.example.com', 1, 300, [31, 0, 113, 9]],
    ]),
  );
  assert.deepEqual(submitted, ['31.0.113.9']);
  assert.deepEqual({ listed: r?.listed, learned: r?.learned, unchanged: r?.unchanged }, { listed: 2, learned: 1, unchanged: 1 });
});

test('in the set for over 10 s but worth refreshing: the refresh is submitted and not waited for; expiring sooner: waited for', async () => {
  const { learnAnswer, submitted } = setup(
    () => new Promise(() => {}),
    undefined,
    () => false,
    (addr) => (addr === '31.0.113.8' ? 60_000 : 9_000),
  );
  assert.equal(learnAnswer(response('a.example.com', [['a.example.com', 1, 300, [31, 0, 113, 8]]])), undefined, 'nothing to wait for');
  assert.deepEqual(submitted, ['31.0.113.8'], 'the refresh still goes to set-sync');
  assert.ok(learnAnswer(response('b.example.com', [['b.example.com', 1, 300, [31, 0, 113, 9]]])), '9 s left: the answer waits for the write');
});

test('already in the set: resolves without waiting on anything; set missing: held, not awaited, reason reported', async () => {
  const fresh = setup(() => ({ kind: 'unchanged' }));
  const r = await fresh.learnAnswer(response('a.example.com', [['a.example.com', 1, 300, [31, 0, 113, 8]]]));
  assert.equal(r?.unchanged, 1);
  const missing = setup(() => new Promise(() => {}), 'set-sync: learned set inet t l4 is missing');
  const h = await missing.learnAnswer(response('a.example.com', [['a.example.com', 1, 300, [31, 0, 113, 8]]]));
  assert.equal(h?.held, 1);
  assert.match(h?.unavailable ?? '', /missing/);
  assert.deepEqual(missing.submitted, ['31.0.113.8'], 'still submitted: set-sync writes it when the set appears');
});

test('a response seen before (another ID, TTLs lower) reuses its plan: no name matched again, its addresses learned with the TTL it carries now; a list change drops every plan', async () => {
  const { learnAnswer, submitted, ttls, matchers } = setup(() => ({ kind: 'applied', refreshed: false }));
  let screened = 0;
  const screen = matchers.anyLearningMatch.bind(matchers);
  matchers.anyLearningMatch = (name) => (screened++, screen(name));
  const answer = (id: number, ttl: number): Uint8Array => {
    const m = response('www.example.com', [
      ['www.example.com', 5, ttl, wireName('edge.cdn.net')],
      ['edge.cdn.net', 1, ttl, [31, 0, 113, 5]],
    ]);
    m[0] = id >> 8;
    m[1] = id & 0xff;
    return m;
  };
  await learnAnswer(answer(1, 3600));
  const first = screened;
  assert.ok(first > 0, 'the first one is read and matched');
  await learnAnswer(answer(2, 3000));
  await learnAnswer(answer(3, 2000));
  assert.equal(screened, first, 'the same bytes but ID and TTLs: not matched again');
  assert.deepEqual(submitted, ['31.0.113.5', '31.0.113.5', '31.0.113.5']);
  assert.deepEqual(ttls, [3600, 3000, 2000], 'each learned with its own TTL');
  // Another address under the same name is another response: read afresh.
  const other = response('www.example.com', [
    ['www.example.com', 5, 3000, wireName('edge.cdn.net')],
    ['edge.cdn.net', 1, 3000, [31, 0, 113, 6]],
  ]);
  await learnAnswer(other);
  assert.ok(screened > first);
  assert.equal(submitted.at(-1), '31.0.113.6');
  // The registry drops example.com: the kept plan must not learn for it any more.
  matchers.setModel('vpn', { ipv4: emptyRangeSet('ipv4'), ipv6: emptyRangeSet('ipv6'), domains: ['xn--e1afmkfd.xn--p1ai'] });
  assert.equal(learnAnswer(answer(4, 1000)), undefined, 'no longer listed');
  assert.equal(submitted.length, 4);
});
