import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLocalNamesCore } from '../../src/local-names/local-names.js';
import { localNamesConfigSchema } from '../../src/local-names/config.js';
import { createLocalNamesMetrics } from '../../src/local-names/metrics.js';
import { RRType } from '../../src/lib/dns-wire/types.js';
import { FakeResolver } from '../helpers/fake-resolver.js';
import type { BackendQuery, BackendResult } from '../../src/local-names/resolver.js';

const A = (name: string, ip: string, ttl = 120) => ({ name, type: RRType.A, class: 1, ttl, data: Buffer.from(ip.split('.').map(Number)) });
const AAAA = (name: string, hex: string) => ({ name, type: RRType.AAAA, class: 1, ttl: 120, data: Buffer.from(hex, 'hex') });

function setup(configOverrides: Record<string, unknown> = {}) {
  const backend = new FakeResolver();
  const registry = new Registry();
  const metrics = createLocalNamesMetrics(registry);
  const config = localNamesConfigSchema.parse(configOverrides);
  const core = createLocalNamesCore({ config, backend: () => backend, metrics, logger: pino({ level: 'silent' }) });
  return { backend, core, registry };
}

const q = (name: string, type: number = RRType.A) => ({ name, type, class: 1 });

test('answers from the backend under the name asked, then from cache', async () => {
  const { backend, core, registry } = setup();
  backend.add(A('printer.local.', '10.77.0.2'));
  const first = await core.resolve(q('PrInTeR.local.'));
  assert.equal(first.kind, 'answer');
  assert.equal(first.kind === 'answer' && first.records[0]?.name, 'PrInTeR.local.');
  await core.resolve(q('printer.local.'));
  assert.equal(backend.queries.length, 1, 'second question served from cache');
  const text = await registry.metrics();
  assert.match(text, /unbound_sidecar_local_names_cache_hits_total 1/);
});

test('unique records settle on the first answer; only a shared PTR browse collects', async () => {
  const { backend, core } = setup();
  const cases: [string, number, 'first' | 'collect'][] = [
    ['x.local.', RRType.A, 'first'],
    ['x.local.', RRType.AAAA, 'first'],
    ['x.local.', RRType.HINFO, 'first'],
    ['one._ipp._tcp.local.', RRType.SRV, 'first'],
    ['one._ipp._tcp.local.', RRType.TXT, 'first'],
    ['one._ipp._tcp.local.', 65, 'first'],
    ['2.0.77.10.in-addr.arpa.', RRType.PTR, 'first'],
    ['_ipp._tcp.local.', RRType.PTR, 'collect'],
    ['_services._dns-sd._udp.local.', RRType.PTR, 'collect'],
  ];
  for (const [name, type, mode] of cases) {
    backend.queries.length = 0;
    backend.add({ name, type, class: 1, ttl: 120, data: Buffer.from([0]) });
    await core.resolve(q(name, type));
    assert.deepEqual(
      backend.queries.map((x) => [x.name, x.type, x.mode]),
      [[name, type, mode]],
    );
  }
});

test('negative answers are cached for negativeCacheTtl; with no type at the name, NXDOMAIN', async () => {
  const { backend, core } = setup({ negativeCacheTtl: 30 });
  assert.deepEqual(await core.resolve(q('nope.local.')), { kind: 'nxdomain' });
  assert.deepEqual(await core.resolve(q('nope.local.')), { kind: 'nxdomain' });
  // The A, and the AAAA that tells whether the name exists at all; both cached.
  assert.deepEqual(
    backend.queries.map((x) => x.type),
    [RRType.A, RRType.AAAA],
  );
});

test('identical questions in flight share one lookup', async () => {
  const { backend, core, registry } = setup();
  backend.delayMs = 50;
  backend.add(A('slow.local.', '10.0.0.9'));
  const answers = await Promise.all(Array.from({ length: 20 }, () => core.resolve(q('slow.local.'))));
  assert.equal(backend.queries.length, 1);
  assert.ok(answers.every((a) => a.kind === 'answer'));
  assert.match(await registry.metrics(), /unbound_sidecar_local_names_coalesced_total 19/);
});

test('backend down → servfail, not cached', async () => {
  const { backend, core } = setup();
  backend.add(A('printer.local.', '10.77.0.2'));
  backend.setUp(false);
  assert.equal((await core.resolve(q('printer.local.'))).kind, 'servfail');
  backend.setUp(true);
  assert.equal((await core.resolve(q('printer.local.'))).kind, 'answer');
});

test('fe80::/10 AAAA dropped; only link-local → NODATA', async () => {
  const { backend, core } = setup();
  backend.add(AAAA('ll.local.', 'fe800000000000000000000000000001'));
  backend.add(AAAA('mixed.local.', 'fe800000000000000000000000000001')).add(AAAA('mixed.local.', 'fd770000000000000000000000000002'));
  assert.deepEqual(await core.resolve(q('ll.local.', RRType.AAAA)), { kind: 'nodata' });
  const mixed = await core.resolve(q('mixed.local.', RRType.AAAA));
  assert.equal(mixed.kind === 'answer' && mixed.records.length, 1);
});

test('policy: static records, aliases, rejected names and types', async () => {
  const { backend, core } = setup({
    policy: {
      staticRecords: ['router.local. A 10.0.0.1', 'router.local. 300 AAAA fd00::1'],
      aliases: { 'retracker.local.': 'router.local.', 'tv.local.': 'livingroom-tv.local.' },
      rejectNames: ['^secret\\.'],
      rejectTypes: ['HINFO'],
    },
  });
  backend.add(A('livingroom-tv.local.', '10.0.0.7'));
  const r = await core.resolve(q('Router.local.'));
  assert.equal(r.kind === 'answer' && r.records[0]?.name, 'Router.local.');
  assert.deepEqual(await core.resolve(q('router.local.', RRType.TXT)), { kind: 'nodata' });
  const aliased = await core.resolve(q('retracker.local.', RRType.AAAA));
  assert.equal(aliased.kind === 'answer' && aliased.records[0]?.ttl, 300);
  assert.equal(aliased.kind === 'answer' && aliased.records[0]?.name, 'retracker.local.');
  const tv = await core.resolve(q('tv.local.'));
  assert.equal(tv.kind === 'answer' && tv.records[0]?.name, 'tv.local.');
  assert.deepEqual(
    backend.queries.map((x) => x.name),
    ['livingroom-tv.local.'],
  );
  assert.deepEqual(await core.resolve(q('secret.local.')), { kind: 'nxdomain' });
  assert.deepEqual(await core.resolve(q('host.local.', RRType.HINFO)), { kind: 'nodata' });
});

test('a flood of slow misses does not delay cached answers; overflow beyond the queue is servfail', async () => {
  // existingNameWaitMs beyond the misses' 300 ms: only the questions' own lookups take slots here.
  const { backend, core } = setup({ maxConcurrentLookups: 4, maxQueuedLookups: 8, reservedLookups: 0, existingNameWaitMs: 900 });
  backend.add(A('fast.local.', '10.0.0.2'));
  await core.resolve(q('fast.local.'));
  backend.delayMs = 300;
  const misses = Array.from({ length: 20 }, (_, i) => core.resolve(q(`miss-${i}.local.`)));
  const t0 = performance.now();
  const hit = await core.resolve(q('fast.local.'));
  assert.equal(hit.kind, 'answer');
  assert.ok(performance.now() - t0 < 20, 'cached answer is immediate');
  const results = await Promise.all(misses);
  assert.equal(results.filter((r) => r.kind === 'servfail').length, 8, '4 running + 8 queued, the other 8 refused');
});

test('names no mDNS responder can hold are NXDOMAIN without asking the backend; valid UTF-8 is asked', async () => {
  const { backend, core, registry } = setup();
  // As the DNS front prints them (readName): `\000` a NUL byte, `\255` a lone non-UTF-8 byte,
  // `\195\040` a lead byte without its continuation, `\192\175` an overlong '/' (invalid UTF-8).
  for (const name of ['a\\000b.local.', '\\255.local.', 'x.\\195\\040.local.', '\\192\\175.local.', '_ipp._tcp.\\000.local.']) {
    assert.deepEqual(await core.resolve(q(name)), { kind: 'nxdomain' }, name);
  }
  assert.equal(backend.queries.length, 0, 'no backend round trip');
  assert.match(await registry.metrics(), /unbound_sidecar_local_names_impossible_names_total 5/);
  // Real UTF-8 (bücher, RFC 6762 §16) and odd but possible ASCII still go to the backend.
  for (const name of ['b\\195\\188cher.local.', 'my\\032printer.local.', '[x].local.']) await core.resolve(q(name));
  assert.deepEqual([...new Set(backend.queries.map((x) => x.name))], ['b\\195\\188cher.local.', 'my\\032printer.local.', '[x].local.']);
});

/** Misses hang until the test opens the gate (as 1 s mDNS timeouts would hold their slots); known names answer at once. */
class GatedMisses extends FakeResolver {
  private open: () => void = () => {};
  private readonly gate = new Promise<void>((r) => (this.open = r));
  override async lookup(query: BackendQuery): Promise<BackendResult> {
    if (!this.table.has(`${query.type}/${query.name}`)) await this.gate;
    return super.lookup(query);
  }
  release(): void {
    this.open();
  }
}

test('a miss flood does not starve names answered before: expired known names get a reserved slot at once', async () => {
  const backend = new GatedMisses();
  backend.add(A('printer.local.', '10.77.0.2', 1));
  const registry = new Registry();
  // The defaults (256 running, 4096 queued, 32 reserved), as in the measured flood.
  const config = localNamesConfigSchema.parse({});
  const core = createLocalNamesCore({ config, backend: () => backend, metrics: createLocalNamesMetrics(registry), logger: pino({ level: 'silent' }) });
  try {
    assert.equal((await core.resolve(q('printer.local.'))).kind, 'answer');
    await new Promise((r) => setTimeout(r, 1100)); // its 1 s TTL runs out: the next question is a miss
    const misses = Array.from({ length: 256 + 4096 }, (_, i) => core.resolve(q(`miss-${i}.local.`)));
    for (let round = 0; round < 3; round++) {
      // Unbound gives up on a TCP answer after 3 s; 1 s is well inside that and well beyond "at once".
      const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000).unref());
      const t0 = performance.now();
      const again = await Promise.race([core.resolve(q('printer.local.', RRType.A)), deadline]);
      assert.notEqual(again, 'timeout', 'the known name waited behind the flood');
      assert.equal(again !== 'timeout' && again.kind, 'answer');
      assert.ok(performance.now() - t0 < 200, `answered in ${(performance.now() - t0).toFixed(0)} ms`);
      await new Promise((r) => setTimeout(r, 1050)); // expired again
    }
    assert.match(await registry.metrics(), /unbound_sidecar_local_names_priority_lookups_total 3/);
    // A name never answered gets no priority: it queues (or is refused) like any other miss.
    const unknown = await Promise.race([core.resolve(q('never-seen.local.')), new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 100))]);
    assert.ok(unknown === 'waiting' || unknown.kind === 'servfail');
    backend.release();
    const results = await Promise.all(misses);
    assert.equal(results.filter((r) => r.kind === 'nxdomain').length, 256 + 4096 - 32, "all but the 32 over the normal lane's 224 + 4096 ran");
  } finally {
    backend.release();
  }
});
