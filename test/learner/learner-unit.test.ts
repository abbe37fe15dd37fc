import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { learnConfigSchema, resolveConfigSchema } from '../../src/learner/config.js';
import { createDnstapIngest, createLearn } from '../../src/learner/dnstap-ingest.js';
import { createLearnAnswer } from '../../src/learner/answer-learning.js';
import { type LearnedEntry, LearnedStore, loadAdditions, saveAdditions } from '../../src/learner/learned-store.js';
import { addressVerdict, clampTtl, ListMatchers } from '../../src/learner/list-matchers.js';
import { createLearnerMetrics } from '../../src/learner/metrics.js';
import { backoffSeconds, createResolverQueue } from '../../src/learner/resolver-queue.js';
import type { QueryOutcome, UpstreamClient } from '../../src/learner/upstream-client.js';
import { normaliseDomain } from '../../src/lib/domain-match/index.js';
import { emptyRangeSet, parseAddress, rangeSetOf } from '../../src/lib/ip-prefix/index.js';
import type { DnstapMessage } from '../../src/lib/dnstap/index.js';
import type { LearnedSets, LearnedTarget } from '../../src/set-sync/index.js';
import { kernelClock, noKernel, stubLearnedSets } from '../helpers/learned-sets-stub.js';

const logger = pino({ level: 'silent' });
const listCfg = {
  name: 'vpn',
  exclude: ['31.0.113.99'],
  minPrefix: { ipv4: 8, ipv6: 16 },
  nft: { family: 'inet' as const, table: 't', createSets: false },
  learn: learnConfigSchema.parse({ set4: 'l4', set6: 'l6' }),
};

function matchers(): ListMatchers {
  const m = new ListMatchers([listCfg], { minTtl: 300, maxTtl: 86_400 });
  m.setModel('vpn', { ipv4: rangeSetOf('ipv4', ['31.51.100.0/24']), ipv6: emptyRangeSet('ipv6'), domains: ['example.com', 'wild.org', 'xn--e1afmkfd.xn--p1ai'] });
  m.setAdditions('vpn', ['added.net']);
  return m;
}

test('matching: apex, subdomains, wildcard apex, IDN, additions; never parents or look-alikes', () => {
  const m = matchers();
  const s = m.get('vpn')!;
  const table: Array<[string, string | undefined]> = [
    ['example.com.', 'example.com'],
    ['a.b.example.com', 'example.com'],
    ['EXAMPLE.COM', 'example.com'],
    ['wild.org', 'wild.org'],
    ['x.y.wild.org.', 'wild.org'],
    ['xn--e1afmkfd.xn--p1ai', 'xn--e1afmkfd.xn--p1ai'],
    ['www.added.net', 'added.net'],
    ['notexample.com', undefined],
    ['com', undefined],
    ['example.com.evil.net', undefined],
    ['org', undefined],
  ];
  for (const [name, entry] of table) assert.equal(m.matchIn(s, name)?.entry, entry, name);
  assert.equal(m.anyMatches(s, ['edge.cdn.net.', 'www.example.com.']), 'www.example.com.');
  assert.equal(m.matchIn(s, 'www.added.net')?.source, 'added');
});

test('names the lookup and admin API take: case, trailing dot, *., IDN → punycode; bare TLDs and junk refused', () => {
  const normaliseName = (raw: string): string | undefined => {
    const d = normaliseDomain(raw);
    return d.kind === 'name' ? d.name : undefined;
  };
  assert.equal(normaliseName(' *.Пример.РФ. '), 'xn--e1afmkfd.xn--p1ai');
  assert.equal(normaliseName('Added.Example.Test.'), 'added.example.test');
  assert.equal(normaliseName('com'), undefined);
  assert.equal(normaliseName('a..b'), undefined);
  assert.equal(normaliseName('has space.com'), undefined);
});

test('address verdicts: static coverage, bogon, excluded; TTL clamp; backoff', () => {
  const s = matchers().get('vpn')!;
  const w = (ip: string) => parseAddress(ip)!.words;
  assert.equal(addressVerdict(s, 'ipv4', w('31.51.100.7')), 'static');
  assert.equal(addressVerdict(s, 'ipv4', w('10.1.2.3')), 'bogon');
  assert.equal(addressVerdict(s, 'ipv4', w('31.0.113.99')), 'excluded');
  assert.equal(addressVerdict(s, 'ipv6', w('fe80::1')), 'bogon');
  assert.equal(addressVerdict(s, 'ipv4', w('31.0.113.1')), undefined);
  assert.deepEqual([clampTtl(5, 300, 86_400), clampTtl(600.7, 300, 86_400), clampTtl(10 ** 7, 300, 86_400)], [300, 600, 86_400]);
  assert.deepEqual(
    [1, 2, 3, 9, 200].map((f) => backoffSeconds(f, 3600, 604_800)),
    [3600, 7200, 14_400, 604_800, 604_800],
  );
});

test('config: defaults and refusals', () => {
  assert.deepEqual(resolveConfigSchema.parse({}), {
    enabled: true,
    upstream: '127.0.0.1:53',
    concurrency: 32,
    qps: 200,
    timeoutMs: 3000,
    minTtl: 300,
    maxTtl: 86_400,
    backoffMin: 3600,
    backoffMax: 604_800,
  });
  assert.equal(resolveConfigSchema.safeParse({ minTtl: 900, maxTtl: 300 }).success, false);
  assert.equal(learnConfigSchema.safeParse({}).success, false);
});

test('store: round trip, expired and malformed rows dropped, corrupt file is a fresh start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-learned-'));
  const now = Date.now();
  // The expiry is set-sync's (kernelClock stands in for it); a load hands each row back to be re-submitted.
  const kernel = kernelClock();
  const resubmit = (e: LearnedEntry, expires: number) => kernel.set(e.list, e.address, expires);
  const learned = (store: LearnedStore, e: LearnedEntry, expires: number) => {
    store.record(e);
    kernel.set(e.list, e.address, expires);
  };
  const a = new LearnedStore(dir, kernel.expiry);
  learned(a, { list: 'vpn', family: 'ipv4', address: '31.0.113.1', name: 'example.com' }, now + 600_000);
  learned(a, { list: 'vpn', family: 'ipv6', address: '2001:db8::1', name: 'example.com' }, now + 60_000);
  learned(a, { list: 'vpn', family: 'ipv4', address: '31.0.113.2', name: 'old.example.com' }, now - 1);
  await a.save();
  const b = new LearnedStore(dir, kernel.expiry);
  assert.deepEqual(await b.load(resubmit), { loaded: 2, dropped: 0 }, 'expired rows are not even written');
  assert.deepEqual(
    b.byAddress('2001:db8::1').map((r) => r.entry.family),
    ['ipv6'],
  );
  // `matched` (the chain name the list matched) survives a round trip; 4-column rows from before load without it.
  const c = new LearnedStore(dir, kernel.expiry);
  learned(c, { list: 'vpn', family: 'ipv4', address: '31.0.113.9', name: 'www.shop.test', matched: 'cdn.example.com' }, now + 600_000);
  await c.save();
  const d = new LearnedStore(dir, kernel.expiry);
  await d.load(resubmit);
  assert.equal(d.byAddress('31.0.113.9')[0]?.entry.matched, 'cdn.example.com');
  writeFileSync(join(dir, 'learned.json'), '{"version":1,"entries":[["vpn","192.0.2.3",9999999999,"old.com"],["vpn","192.0.2.4",9999999999,"a.com",7]]}');
  const legacy = new LearnedStore(dir, kernel.expiry);
  assert.deepEqual(await legacy.load(resubmit), { loaded: 1, dropped: 1 }, 'a non-string matched is malformed');
  assert.equal(legacy.byAddress('192.0.2.3')[0]?.entry.matched, undefined);
  writeFileSync(join(dir, 'learned.json'), '{"version":1,"entries":[["vpn","not-an-ip",9999999999,"x"],["vpn","192.0.2.1",1,"gone.com"],["vpn","192.0.2.2",9999999999,"ok.com"]]}');
  assert.deepEqual(await new LearnedStore(dir, kernel.expiry).load(resubmit), { loaded: 1, dropped: 2 });
  writeFileSync(join(dir, 'learned.json'), '{"version":1,"entries":[["vpn","not-an-ip",9999999999,"x"]');
  assert.deepEqual(await new LearnedStore(dir, kernel.expiry).load(resubmit), { loaded: 0, dropped: 0 });
  await saveAdditions(dir, new Map([['vpn', new Set(['b.com', 'a.com'])]]));
  assert.deepEqual([...(await loadAdditions(dir))], [['vpn', ['a.com', 'b.com']]]);
  assert.match(readFileSync(join(dir, 'learner-domains.json'), 'utf8'), /"version": 1/);
});

function fakeSets(): { sets: LearnedSets; submitted: Array<[string, string, number]> } {
  const submitted: Array<[string, string, number]> = [];
  const sets = stubLearnedSets(
    { kind: 'applied', refreshed: false },
    { submit: async (_t: LearnedTarget, _f, addr, ttl) => (submitted.push([_t.set4 ?? '', addr, ttl]), { kind: 'applied', refreshed: false }) },
  );
  return { sets, submitted };
}

/** A wire-format response: question + answers given as [owner, type, ttl, rdata bytes]. */
function response(q: string, rrs: Array<[string, number, number, number[]]>): Uint8Array {
  const name = (n: string) => [
    ...n
      .split('.')
      .filter(Boolean)
      .flatMap((l) => [l.length, ...Buffer.from(l)]),
    0,
  ];
  const out = [0, 1, 0x81, 0x80, 0, 1, 0, rrs.length, 0, 0, 0, 0, ...name(q), 0, 1, 0, 1];
  for (const [o, type, ttl, rd] of rrs) out.push(...name(o), 0, type, 0, 1, (ttl >>> 24) & 255, (ttl >>> 16) & 255, (ttl >>> 8) & 255, ttl & 255, 0, rd.length, ...rd);
  return new Uint8Array(out);
}

test('ingest: CNAME chain head matches, target learned once per list with TTL clamped; non-client messages ignored', async () => {
  const { sets, submitted } = fakeSets();
  const metrics = createLearnerMetrics(new Registry());
  const m = matchers();
  const learn = createLearn({ learnedSets: sets, store: new LearnedStore('/nonexistent', noKernel), metrics, logger });
  const ingest = createDnstapIngest({
    learnAnswer: createLearnAnswer({ matchers: m, learn, unavailable: () => undefined, malformed: (reason) => metrics.dnstapErrors.inc({ reason: `dns-${reason}` }) }),
  });
  const cname = [...'edge.cdn.net'.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
  const msg = response('www.example.com', [
    ['www.example.com', 5, 300, cname],
    ['edge.cdn.net', 1, 20, [31, 0, 113, 5]],
    ['other.net', 1, 20, [31, 0, 113, 6]],
  ]);
  const base = { type: 'CLIENT_RESPONSE', responseMessage: msg } as unknown as DnstapMessage;
  ingest(base);
  ingest({ ...base, type: 'RESOLVER_RESPONSE' });
  ingest({ ...base, responseMessage: new Uint8Array([1, 2, 3]) });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(submitted, [['l4', '31.0.113.5', 300]]);
});

test('resolver queue: answers learned and re-resolved at 0.9×TTL; NXDOMAIN backs off; qps respected', async () => {
  const m = matchers();
  const { sets, submitted } = fakeSets();
  const metrics = createLearnerMetrics(new Registry());
  const asked: string[] = [];
  const client: UpstreamClient = {
    async query(name, qtype): Promise<QueryOutcome> {
      asked.push(`${name}/${qtype}`);
      const addresses =
        name === 'example.com' && qtype === 1 ? [{ owner: 'example.com.', family: 'ipv4' as const, address: '31.0.113.1', words: new Uint32Array([0x1f007101]), ttl: 1000, rdataOffset: 0 }] : [];
      return { kind: 'answer', answers: { kind: 'answers', question: `${name}.`, qtype, rcode: name === 'wild.org' ? 3 : 0, addresses, cnames: [], skipped: 0, capped: false } };
    },
    close: () => undefined,
  };
  let now = 1_000_000;
  const config = resolveConfigSchema.parse({ qps: 1000 });
  const q = createResolverQueue({
    config,
    matchers: m,
    learn: createLearn({ learnedSets: sets, store: new LearnedStore('/nonexistent', noKernel), metrics, logger }),
    metrics,
    logger,
    client,
    now: () => now,
  });
  q.setNames('vpn', ['example.com', 'wild.org']);
  q.start();
  await q.idle();
  assert.deepEqual(asked.sort(), ['example.com/1', 'example.com/28', 'wild.org/1', 'wild.org/28']);
  assert.deepEqual(submitted, [['l4', '31.0.113.1', 1000]]);
  now += 901_000; // past 0.9 × 1000 s: example.com is due again, wild.org (1 h backoff) is not
  q.setNames('vpn', ['example.com', 'wild.org']);
  await q.idle();
  assert.equal(asked.filter((a) => a.startsWith('example.com')).length, 4);
  assert.equal(asked.filter((a) => a.startsWith('wild.org')).length, 2);
  await q.stop();
});

test('metric names follow unbound_sidecar_<capability>_<what>_<unit>', async () => {
  const r = new Registry();
  createLearnerMetrics(r);
  for (const m of await r.getMetricsAsJSON()) assert.match(m.name, /^unbound_sidecar_learner_[a-z0-9_]+$/);
});
