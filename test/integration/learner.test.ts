/**
 * The learner end to end: a real Unbound resolver with dnstap → our learner → learned nft sets in a
 * throw-away network namespace; a second Unbound plays "the internet" with local-data.
 *
 * Both Unbounds run in the root namespace on free loopback ports, because the learner (this
 * process) must reach the resolver for proactive resolution and Node cannot enter a namespace; the
 * nftables sets — the state under test — live in the namespace (`nft.netns`), reached the way the
 * daemon reaches them. The dnstap socket is a file, which namespaces do not separate.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLearner, type Learner, type LearnerConfig } from '../../src/learner/index.js';
import { adminRequest } from '../../src/learner/admin-client.js';
import { normaliseDomain } from '../../src/lib/domain-match/index.js';
import { emptyRangeSet, rangeSetOf } from '../../src/lib/ip-prefix/index.js';
import { createLearnedSets, type LearnedSets } from '../../src/set-sync/learned-sets.js';
import { freePort } from '../lab/free-port.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';
import { removeDirSync, stopChild, track } from '../lab/reaper.js';
import { sleep, waitFor } from '../lab/wait.js';
import { loopbackUnboundConf as unboundConf } from '../lab/loopback-unbound.js';

const skip = labSkip({ binaries: { nft: 'nftables' } });
const logger = pino({ level: process.env.LEARNER_TEST_LOG ?? 'silent' });

const A = (name: string, ip: string, ttl = 600): string => `local-data: "${name}. ${ttl} IN ${ip.includes(':') ? 'AAAA' : 'A'} ${ip}"`;
const idn = normaliseDomain('пример.example.test');
const IDN = idn.kind === 'name' ? idn.name : 'idn-failed';

describe('learner with a real Unbound and real nft sets', { skip }, () => {
  let dir: string;
  let ns: NftNetns;
  let learner: Learner;
  let learnedSets: LearnedSets;
  let registry: Registry;
  let resolverConf: string;
  let resolver: ChildProcess | undefined;
  let resolverPort: number;
  const children: ChildProcess[] = [];
  let untrack: (() => void) | undefined;

  const start = (conf: string, log: string): ChildProcess => {
    const fd = openSync(join(dir, log), 'a');
    const child = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    children.push(child);
    return child;
  };
  const kdig = (port: number, name: string, type = 'A') => spawnSync('kdig', [`@127.0.0.1`, '-p', String(port), '+timeout=2', '+retry=0', name, type], { encoding: 'utf8' });
  const ready = (port: number) =>
    waitFor(`unbound on ${port}`, () =>
      spawnSync('kdig', ['@127.0.0.1', '-p', String(port), '+timeout=1', '+retry=0', 'version.server', 'CH', 'TXT'], { encoding: 'utf8' }).stdout.includes('NOERROR'),
    );
  const ask = (name: string, type = 'A'): string => {
    const r = kdig(resolverPort, name, type);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  /** address → seconds left (nft's `expires`), from the kernel. */
  const kernel = async (set: string): Promise<Map<string, number>> => {
    const doc = JSON.parse(await ns.nft(['-j', 'list', 'set', 'inet', 'lrn', set])) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
    const out = new Map<string, number>();
    for (const item of doc.nftables) {
      for (const e of item.set?.elem ?? []) {
        const el = (e as { elem?: { val: string; expires?: number } }).elem;
        if (el) out.set(el.val, el.expires ?? -1);
        else if (typeof e === 'string') out.set(e, -1);
      }
    }
    return out;
  };
  const inSet = (set: string, ip: string, timeoutMs = 5000) => waitFor(`${ip} in ${set}`, async () => (await kernel(set)).get(ip), { timeoutMs });

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'us-learner-'));
    untrack = track({ sweepSync: () => removeDirSync(dir) });
    ns = createNftNetns();
    const internetPort = await freePort();
    resolverPort = await freePort();
    const internet = unboundConf(dir, internetPort, [
      'local-zone: "example.test." static',
      A('listed.example.test', '31.0.113.1'),
      A('listed.example.test', '2a0a:db8::1'),
      A('sub.listed.example.test', '31.0.113.2'),
      A('wild.example.test', '31.0.113.3'),
      A('a.b.c.wild.example.test', '31.0.113.4'),
      'local-data: "go.listed.example.test. 600 IN CNAME edge.cdn.example.test."',
      A('edge.cdn.example.test', '31.0.113.5', 30),
      A('notlisted.example.test', '31.0.113.6'),
      A('listed.example.test.evil.example.test', '31.0.113.7'),
      A('example.test', '31.0.113.8'),
      A(`${IDN}`, '31.0.113.9'),
      A('static.listed.example.test', '31.51.100.7'),
      A('bogon.listed.example.test', '10.1.2.3'),
      A('excluded.listed.example.test', '31.0.113.99'),
      A('proactive.example.test', '31.0.113.20', 100),
      A('added.example.test', '31.0.113.30'),
      A('later.listed.example.test', '31.0.113.40'),
      A('restart.listed.example.test', '31.0.113.41'),
    ]);
    start(internet, 'internet.log');
    await ready(internetPort);
    const config: LearnerConfig = {
      dnstap: { socket: join(dir, 'dnstap.sock') },
      resolve: { enabled: true, upstream: `127.0.0.1:${resolverPort}`, concurrency: 8, qps: 50, timeoutMs: 1000, minTtl: 2, maxTtl: 3600, backoffMin: 3600, backoffMax: 86_400 },
      admin: { socket: join(dir, 'admin.sock') },
      lists: [
        {
          name: 'vpn',
          exclude: ['31.0.113.99'],
          minPrefix: { ipv4: 8, ipv6: 16 },
          nft: { family: 'inet', table: 'lrn', netns: ns.name, createSets: true },
          learn: { set4: 'learned4', set6: 'learned6', resolve: true },
        },
      ],
    };
    registry = new Registry();
    learnedSets = createLearnedSets({ logger, registry });
    learner = createLearner({ config, stateDir: join(dir, 'state'), logger, registry, learnedSets });
    learner.setListModel({
      list: 'vpn',
      ipv4: rangeSetOf('ipv4', ['31.51.100.0/24']),
      ipv6: emptyRangeSet('ipv6'),
      domains: ['listed.example.test', 'wild.example.test', IDN, 'proactive.example.test', 'dead.example.test'].sort(),
      updatedAt: Date.now(),
    });
    await learner.start();
    resolverConf = unboundConf(
      dir,
      resolverPort,
      ['do-not-query-localhost: no', 'domain-insecure: "test."', 'local-zone: "test." nodefault'],
      [
        'stub-zone:',
        '  name: "example.test."',
        `  stub-addr: 127.0.0.1@${internetPort}`,
        'dnstap:',
        '  dnstap-enable: yes',
        `  dnstap-socket-path: "${config.dnstap?.socket ?? ''}"`,
        '  dnstap-log-client-response-messages: yes',
        '',
      ].join('\n'),
    );
    resolver = start(resolverConf, 'resolver.log');
    await ready(resolverPort);
    await waitFor('Unbound connects to dnstap', () => (learner.status().dnstap?.connections ?? 0) === 1);
  });

  after(async () => {
    if (skip) return;
    await learner?.stop();
    await learnedSets?.stop();
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM', 2000)));
    await ns?.teardown();
    if (!process.env.LAB_KEEP) removeDirSync(dir);
    untrack?.();
  });

  const logs = (): string => ['resolver.log', 'internet.log'].map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-1500)}`).join('\n');

  test('listed apex (A and AAAA), subdomain, wildcard apex and deep subdomain, IDN, CNAME chain to an unlisted name', async () => {
    for (const n of ['listed.example.test', 'sub.listed.example.test', 'wild.example.test', 'a.b.c.wild.example.test', IDN, 'go.listed.example.test']) assert.match(ask(n), /NOERROR/, logs());
    ask('listed.example.test', 'AAAA');
    for (const ip of ['31.0.113.1', '31.0.113.2', '31.0.113.3', '31.0.113.4', '31.0.113.9', '31.0.113.5']) await inSet('learned4', ip);
    await inSet('learned6', '2a0a:db8::1');
  });

  test('timeouts: TTL clamped into [minTtl, maxTtl] and present in the kernel', async () => {
    const k = await kernel('learned4');
    const t = k.get('31.0.113.1') ?? 0;
    assert.ok(t > 590 && t <= 600, `listed apex expires in ${t} s (TTL 600)`);
    const cdn = k.get('31.0.113.5') ?? 0;
    assert.ok(cdn > 0 && cdn <= 30, `CNAME target expires in ${cdn} s (TTL 30)`);
  });

  test('unlisted look-alikes, the parent, static, bogon and excluded addresses are absent', async () => {
    for (const n of ['notlisted.example.test', 'listed.example.test.evil.example.test', 'example.test', 'static.listed.example.test', 'bogon.listed.example.test', 'excluded.listed.example.test'])
      ask(n);
    ask('later.listed.example.test'); // a listed marker sent last: once it is in, the ones before were processed
    await inSet('learned4', '31.0.113.40');
    const k = await kernel('learned4');
    for (const ip of ['31.0.113.6', '31.0.113.7', '31.0.113.8', '31.51.100.7', '10.1.2.3', '31.0.113.99']) assert.ok(!k.has(ip), `${ip} must not be learned`);
  });

  test('refresh: a longer timeout replaces the element (delete + add), a shorter one is left alone', async () => {
    const target = { family: 'inet' as const, table: 'lrn', set4: 'learned4', netns: ns.name, createSets: true };
    assert.equal((await learnedSets.submit(target, 'ipv4', '31.0.113.200', 100)).kind, 'applied');
    const r = await learnedSets.submit(target, 'ipv4', '31.0.113.200', 5000);
    assert.deepEqual(r, { kind: 'applied', refreshed: true });
    const t = (await kernel('learned4')).get('31.0.113.200') ?? 0;
    assert.ok(t > 4900, `refreshed timeout ${t} s`);
    assert.equal((await learnedSets.submit(target, 'ipv4', '31.0.113.200', 100)).kind, 'unchanged');
  });

  test('the kernel loses learned addresses (flush set; table deleted = a ruleset reload): written back within 2 s, timeout left', async () => {
    const target = { family: 'inet' as const, table: 'lrn', set4: 'learned4', netns: ns.name, createSets: true };
    assert.equal((await learnedSets.submit(target, 'ipv4', '31.0.113.210', 3000)).kind, 'applied');
    await inSet('learned4', '31.0.113.210');
    await ns.nft(['flush', 'set', 'inet', 'lrn', 'learned4']);
    const afterFlush = await inSet('learned4', '31.0.113.210', 2000);
    assert.ok(afterFlush > 2900 && afterFlush <= 3000, `timeout left after the flush: ${afterFlush} s`);
    await ns.nft(['delete', 'table', 'inet', 'lrn']);
    const afterReload = await inSet('learned4', '31.0.113.210', 2000);
    assert.ok(afterReload > 2900 && afterReload <= 3000, `timeout left after the table came back: ${afterReload} s`);
    // A refresh of our own (delete + add) is not mistaken for a flush: no replay counted for it.
    const replayed = async () => Number(/unbound_sidecar_set_sync_learned_replayed_total (\d+)/.exec(await registry.metrics())?.[1] ?? 0);
    const before = await replayed();
    assert.deepEqual(await learnedSets.submit(target, 'ipv4', '31.0.113.210', 9000), { kind: 'applied', refreshed: true });
    await sleep(800);
    assert.equal(await replayed(), before);
  });

  test('proactive resolution learns a listed name nobody asked for; dead names back off', async () => {
    // The learner started before the resolver Unbound: its first attempt timed out and is retried in seconds.
    await inSet('learned4', '31.0.113.20', 20_000);
    await waitFor('NXDOMAIN counted', async () => (await registry.getSingleMetricAsString('unbound_sidecar_learner_resolutions_total')).includes('outcome="nxdomain"} 2'), { timeoutMs: 20_000 });
  });

  test('admin API: an added domain is resolved at once, persisted, and lookup explains it', async () => {
    const r = await adminRequest(join(dir, 'admin.sock'), 'POST', '/v1/domains', { op: 'add', list: 'vpn', name: 'Added.Example.Test.' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await inSet('learned4', '31.0.113.30');
    assert.match(readFileSync(join(dir, 'state', 'learner-domains.json'), 'utf8'), /added\.example\.test/);
    const name = await adminRequest(join(dir, 'admin.sock'), 'GET', '/v1/lookup?q=x.added.example.test');
    assert.deepEqual((name.body as { matches: unknown }).matches, [{ list: 'vpn', entry: 'added.example.test', source: 'added', learns: true }]);
    const ip = await adminRequest(join(dir, 'admin.sock'), 'GET', '/v1/lookup?q=31.0.113.1');
    const learned = (ip.body as { learned: Array<{ name: string; set: string }> }).learned;
    assert.equal(learned[0]?.name, 'listed.example.test');
    assert.match(learned[0]?.set ?? '', /inet lrn learned4/);
    const removeRegistry = await adminRequest(join(dir, 'admin.sock'), 'POST', '/v1/domains', { op: 'remove', list: 'vpn', name: 'listed.example.test' });
    assert.equal(removeRegistry.status, 409);
  });

  test('a removed domain, and one the registry drops, take their learned addresses out of the set at once', async () => {
    const gone = (ip: string) => waitFor(`${ip} out of learned4`, async () => !(await kernel('learned4')).has(ip), { timeoutMs: 3000 });
    const r = await adminRequest(join(dir, 'admin.sock'), 'POST', '/v1/domains', { op: 'remove', list: 'vpn', name: 'added.example.test' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await gone('31.0.113.30');
    const ip = await adminRequest(join(dir, 'admin.sock'), 'GET', '/v1/lookup?q=31.0.113.30');
    assert.deepEqual((ip.body as { learned: unknown[] }).learned, [], 'not in the store either');
    // The registry stops listing wild.example.test: its apex and deep-subdomain addresses go; the rest stay.
    await inSet('learned4', '31.0.113.3');
    learner.setListModel({
      list: 'vpn',
      ipv4: rangeSetOf('ipv4', ['31.51.100.0/24']),
      ipv6: emptyRangeSet('ipv6'),
      domains: ['listed.example.test', IDN, 'proactive.example.test', 'dead.example.test'].sort(),
      updatedAt: Date.now(),
    });
    await gone('31.0.113.3');
    await gone('31.0.113.4');
    const kept = await kernel('learned4');
    for (const ip of ['31.0.113.1', '31.0.113.2']) assert.ok(kept.has(ip), `${ip} (still listed) stays`);
    assert.match(await registry.getSingleMetricAsString('unbound_sidecar_learner_pruned_total'), /list="vpn"} 3/);
  });

  test('garbage on the dnstap socket is counted and survived', async () => {
    await new Promise<void>((resolve) => {
      const s = connect(join(dir, 'dnstap.sock'), () => s.end(Buffer.from('\x00\x00\x00\x00\x00\x00\x00\x05garbage-garbage-garbage')));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    ask('sub.listed.example.test', 'AAAA'); // still answered and processed
    await waitFor('error counted', async () => (await registry.getSingleMetricAsString('unbound_sidecar_learner_dnstap_errors_total')).includes('reason='));
  });

  test('Unbound restarted: dnstap reconnects and learning continues', async () => {
    assert.ok(resolver);
    await stopChild(resolver, 'SIGTERM', 5000);
    await waitFor('disconnect', () => (learner.status().dnstap?.connections ?? 1) === 0);
    resolver = start(resolverConf, 'resolver.log');
    await ready(resolverPort);
    await waitFor('reconnect', () => (learner.status().dnstap?.connections ?? 0) === 1, { timeoutMs: 20_000 });
    ask('restart.listed.example.test');
    await inSet('learned4', '31.0.113.41');
  });

  test('learner restarted: learned addresses come back from the store into an emptied set', async () => {
    await learner.stop();
    await learnedSets.stop(); // else its replay (not the store) would refill the set
    await ns.nft(['flush', 'set', 'inet', 'lrn', 'learned4']);
    learnedSets = createLearnedSets({ logger, registry: new Registry() });
    learner = createLearner({ config: learnerConfigOf(dir, resolverPort, ns.name), stateDir: join(dir, 'state'), logger, registry: new Registry(), learnedSets });
    await learner.start();
    const t = await inSet('learned4', '31.0.113.1');
    assert.ok(t > 500, `remaining timeout restored (${t} s)`);
    const n = learner.status().learned.find((l) => l.list === 'vpn' && l.family === 'ipv4')?.count ?? 0;
    assert.ok(n >= 6, `what was learned, less the 3 pruned above: ${n}`);
  });
});

function learnerConfigOf(dir: string, port: number, netns: string): LearnerConfig {
  return {
    dnstap: { socket: join(dir, 'dnstap.sock') },
    resolve: { enabled: false, upstream: `127.0.0.1:${port}`, concurrency: 8, qps: 50, timeoutMs: 1000, minTtl: 2, maxTtl: 3600, backoffMin: 3600, backoffMax: 86_400 },
    admin: { socket: join(dir, 'admin.sock') },
    lists: [
      { name: 'vpn', exclude: [], minPrefix: { ipv4: 8, ipv6: 16 }, nft: { family: 'inet', table: 'lrn', netns, createSets: true }, learn: { set4: 'learned4', set6: 'learned6', resolve: true } },
    ],
  };
}
