import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { nameToWireLower } from '../../src/lib/dns-wire/wire-name.js';
import type { MdnsAnswer } from '../../src/lib/mdns/response-reader.js';
import { createNativeBackend, type MdnsTransport, type NativeLookupOutcome } from '../../src/local-names/native-backend.js';
import type { BackendQuery } from '../../src/local-names/resolver.js';

/** A LAN in a box: `respond` decides what each query (and retransmission) gets back, after `delayMs`. */
class FakeLan implements MdnsTransport {
  up = true;
  readonly sent: { name: string; type: number; at: number }[] = [];
  respond: (name: string, type: number, nth: number) => { delayMs: number; answers: MdnsAnswer[] }[] = () => [];
  private readonly answerListeners = new Set<(a: readonly MdnsAnswer[]) => void>();
  private readonly t0 = performance.now();
  isUp = (): boolean => this.up;
  onStateChange = (): (() => void) => () => undefined;
  onAnswers(l: (a: readonly MdnsAnswer[]) => void): () => void {
    this.answerListeners.add(l);
    return () => this.answerListeners.delete(l);
  }
  emit(answers: MdnsAnswer[]): void {
    for (const l of this.answerListeners) l(answers);
  }
  async query(name: string, type: number): Promise<number> {
    const nth = this.sent.filter((s) => s.name === name && s.type === type).length;
    this.sent.push({ name, type, at: performance.now() - this.t0 });
    for (const r of this.respond(name, type, nth)) setTimeout(() => this.emit(r.answers), r.delayMs);
    return this.up ? 2 : 0;
  }
  async close(): Promise<void> {}
}

const ans = (name: string, type: number, rdata: number[], o: { ttl?: number; flush?: boolean; klass?: number } = {}): MdnsAnswer => ({
  owner: nameToWireLower(name),
  type,
  class: o.klass ?? 1,
  cacheFlush: o.flush ?? false,
  ttl: o.ttl ?? 10,
  rdata: Uint8Array.from(rdata),
});
const q = (name: string, type: number, mode: 'first' | 'collect', extra: Partial<BackendQuery> = {}): BackendQuery => ({ name, type, mode, timeoutMs: 300, windowMs: 300, ...extra });

async function setup(quietMs = 60) {
  const lan = new FakeLan();
  const outcomes: NativeLookupOutcome[] = [];
  const backend = await createNativeBackend({ logger: pino({ level: 'silent' }), collectQuietMs: quietMs, transport: lan, onLookup: (o) => outcomes.push(o) });
  return { lan, backend, outcomes };
}

test('first mode settles on the first matching record, with the responder TTL and the name asked', async () => {
  const { lan, backend } = await setup();
  lan.respond = (name, type) => (name === 'printer.local.' && type === 1 ? [{ delayMs: 5, answers: [ans('PRINTER.local', 1, [10, 77, 0, 50], { flush: true, ttl: 10 })] }] : []);
  const t0 = performance.now();
  const r = await backend.lookup(q('printer.local.', 1, 'first'));
  assert.ok(performance.now() - t0 < 100, 'did not wait for the timeout');
  assert.deepEqual(r, { kind: 'records', records: [{ name: 'printer.local.', type: 1, class: 1, ttl: 10, data: Uint8Array.from([10, 77, 0, 50]) }] });
});

test('unrelated answers are ignored: other names, other types, other classes', async () => {
  const { lan, backend, outcomes } = await setup();
  lan.respond = () => [{ delayMs: 5, answers: [ans('other.local', 1, [1, 2, 3, 4]), ans('printer.local', 28, new Array(16).fill(1)), ans('printer.local', 1, [1, 1, 1, 1], { klass: 3 })] }];
  const r = await backend.lookup(q('printer.local.', 1, 'first', { timeoutMs: 90 }));
  assert.deepEqual(r, { kind: 'none' });
  assert.deepEqual(outcomes, ['timeout']);
});

test('unusable records (fe80::) do not settle; they are returned at the timeout if nothing better came', async () => {
  const { lan, backend } = await setup();
  const fe80 = [0xfe, 0x80, ...new Array(13).fill(0), 0x50];
  const ula = [0xfd, 0x77, ...new Array(13).fill(0), 0x50];
  const usable = (_t: number, d: Uint8Array): boolean => d[0] !== 0xfe;
  lan.respond = () => [
    { delayMs: 2, answers: [ans('dual.local', 28, fe80)] },
    { delayMs: 30, answers: [ans('dual.local', 28, ula)] },
  ];
  const r = await backend.lookup(q('dual.local.', 28, 'first', { usable }));
  assert.equal(r.kind, 'records');
  assert.equal(r.kind === 'records' && r.records.length, 2, 'settled on the ULA, with the fe80 alongside (policy drops it)');
  lan.respond = () => [{ delayMs: 2, answers: [ans('dual.local', 28, fe80)] }];
  const t0 = performance.now();
  const only = await backend.lookup(q('dual.local.', 28, 'first', { usable, timeoutMs: 120 }));
  assert.ok(performance.now() - t0 >= 110);
  assert.equal(only.kind === 'records' && only.records.length, 1);
});

test('one retransmission at a third of the timeout when nothing usable arrived', async () => {
  const { lan, backend } = await setup();
  lan.respond = (_n, _t, nth) => (nth === 1 ? [{ delayMs: 2, answers: [ans('late.local', 1, [10, 0, 0, 9])] }] : []);
  const r = await backend.lookup(q('late.local.', 1, 'first', { timeoutMs: 300 }));
  assert.equal(r.kind, 'records');
  assert.equal(lan.sent.length, 2);
  assert.ok((lan.sent[1]?.at ?? 0) - (lan.sent[0]?.at ?? 0) >= 95, `retransmitted at ~100 ms, not ${lan.sent[1]?.at}`);
  lan.sent.length = 0;
  lan.respond = () => [{ delayMs: 2, answers: [ans('quick.local', 1, [10, 0, 0, 8])] }];
  await backend.lookup(q('quick.local.', 1, 'first'));
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(lan.sent.length, 1, 'no retransmission after an answer');
});

test('collect mode gathers from several responders, dedupes, ends quietMs after the query', async () => {
  const { lan, backend } = await setup(60);
  const inst = (n: string): number[] => [...Buffer.from([n.length]), ...Buffer.from(n), 4, ...Buffer.from('_ipp'), 4, ...Buffer.from('_tcp'), 5, ...Buffer.from('local'), 0];
  lan.respond = () => [
    { delayMs: 5, answers: [ans('_ipp._tcp.local', 12, inst('one'))] },
    { delayMs: 40, answers: [ans('_IPP._tcp.local', 12, inst('two')), ans('_ipp._tcp.local', 12, inst('one'))] },
    { delayMs: 200, answers: [ans('_ipp._tcp.local', 12, inst('late'))] },
  ];
  const t0 = performance.now();
  const r = await backend.lookup(q('_ipp._tcp.local.', 12, 'collect', { windowMs: 1000, timeoutMs: 1000 }));
  const ms = performance.now() - t0;
  assert.equal(r.kind === 'records' && r.records.length, 2);
  assert.ok(ms >= 55 && ms < 150, `ended after the quiet period, took ${ms.toFixed(0)} ms`);
});

test('collect with nobody answering waits for the window, retransmits once, then none', async () => {
  const { lan, backend, outcomes } = await setup();
  const t0 = performance.now();
  const r = await backend.lookup(q('_nothing._tcp.local.', 12, 'collect', { windowMs: 150, timeoutMs: 1000 }));
  assert.deepEqual(r, { kind: 'none' });
  assert.ok(performance.now() - t0 >= 145);
  assert.equal(lan.sent.length, 2);
  assert.deepEqual(outcomes, ['timeout']);
});

test('goodbye (TTL 0) withdraws; cache-flush replaces records older than 1 s only', async () => {
  const { lan, backend } = await setup(60);
  lan.respond = () => [
    { delayMs: 2, answers: [ans('h.local', 16, [1, 0x61]), ans('h.local', 16, [1, 0x62])] },
    { delayMs: 10, answers: [ans('h.local', 16, [1, 0x61], { ttl: 0 })] },
    { delayMs: 20, answers: [ans('h.local', 16, [1, 0x63], { flush: true })] },
  ];
  const r = await backend.lookup(q('h.local.', 16, 'collect'));
  assert.deepEqual(r.kind === 'records' && r.records.map((x) => Buffer.from(x.data).toString('latin1')).sort(), ['\x01b', '\x01c']);
});

test('bounded: a flood of distinct records stops at 256 per lookup', async () => {
  const { lan, backend } = await setup(40);
  lan.respond = () => [{ delayMs: 2, answers: Array.from({ length: 1000 }, (_, i) => ans('flood.local', 16, [2, i >> 8, i & 0xff])) }];
  const r = await backend.lookup(q('flood.local.', 16, 'collect'));
  assert.equal(r.kind === 'records' && r.records.length, 256);
});

test('unavailable: no interface, nothing sent, or aborted', async () => {
  const { lan, backend } = await setup();
  lan.up = false;
  const t0 = performance.now();
  assert.equal((await backend.lookup(q('x.local.', 1, 'first'))).kind, 'unavailable');
  assert.ok(performance.now() - t0 < 20);
  const ac = new AbortController();
  lan.up = true;
  const p = backend.lookup(q('y.local.', 1, 'first', { signal: ac.signal }));
  ac.abort();
  assert.equal((await p).kind, 'unavailable');
  // The transport reports 0 sockets took the query (link gone between isUp and send).
  lan.query = async () => 0;
  assert.equal((await backend.lookup(q('z.local.', 1, 'first'))).kind, 'unavailable');
});

test('ANY (the existence lookup) takes records of every type the owner sends', async () => {
  const { lan, backend } = await setup();
  assert.deepEqual(backend.existenceTypes?.('printer.local.'), [255]);
  lan.respond = (name, type) => (name === 'printer.local.' && type === 255 ? [{ delayMs: 5, answers: [ans('printer.local', 1, [10, 77, 0, 50]), ans('printer.local', 16, [0])] }] : []);
  const r = await backend.lookup(q('printer.local.', 255, 'first'));
  assert.equal(r.kind, 'records');
  assert.deepEqual(r.kind === 'records' && r.records.map((x) => x.type), [1]);
});

test('an NSEC from the owner without the type asked ends the lookup at once as NODATA (RFC 6762 §6.1)', async () => {
  const { lan, backend } = await setup();
  // NSEC rdata: next name (the owner, RFC 6762 §6.1), then window 0 with A (type 1) only.
  const next = [...nameToWireLower('printer.local')];
  const onlyA = [...next, 0, 1, 0x40];
  const withAaaa = [...next, 0, 4, 0x40, 0, 0, 0x08];
  lan.respond = (_name, type) => (type === 28 ? [{ delayMs: 5, answers: [ans('printer.local', 47, onlyA, { ttl: 120 })] }] : []);
  const t0 = performance.now();
  const r = await backend.lookup(q('printer.local.', 28, 'first', { timeoutMs: 2000 }));
  assert.deepEqual(r, { kind: 'none', nameExists: true });
  assert.ok(performance.now() - t0 < 1000, 'did not wait for the timeout');
  // An NSEC that lists the type asked says the record exists: keep waiting for it.
  lan.respond = (_name, type) => (type === 28 ? [{ delayMs: 5, answers: [ans('printer.local', 47, withAaaa, { ttl: 120 })] }] : []);
  assert.deepEqual(await backend.lookup(q('printer.local.', 28, 'first', { timeoutMs: 150 })), { kind: 'none' });
});
