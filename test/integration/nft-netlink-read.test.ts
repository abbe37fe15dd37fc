/**
 * Reading and creating sets over netlink against the real kernel in a throw-away namespace. The
 * netlink backend is built with a CLI backend that refuses everything, so each test proves the
 * work was done over netlink; `nft` itself (the real CLI backend, `nft list`) is the reference:
 * listings equal `nft -j list set` element for element, descriptions equal `nft -t list set`,
 * created sets print like ones made by `nft add set`. Also: a refused transaction names the set it
 * was refused for, and set-sync's status of the other set in the same transaction says so.
 * Needs root (lab rules).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { rangeSetOf, rangeSetsEqual } from '../../src/lib/ip-prefix/index.js';
import { createNetlinkBackend } from '../../src/lib/nft/netlink/netlink-backend.js';
import { createNftBackend, NftSetError, type NftBackend } from '../../src/lib/nft/nft-backend.js';
import { addSetCommand, addTableCommand, elementCommand, flushSetCommand, RangeElements, type SetRef } from '../../src/lib/nft/nft-json.js';
import { createSetSync } from '../../src/set-sync/index.js';
import { exactFromElements } from '../../src/set-sync/readback.js';
import { model } from '../helpers/range-model.js';
import { createNftNetns, type NftNetns } from '../lab/nft-netns.js';
import { labSkip } from '../lab/prereqs.js';

const skip = labSkip({ binaries: { nft: 'nftables' } });
let ns: NftNetns;
const refuse = (): never => {
  throw new Error('the nft CLI was used');
};
const noCli: NftBackend = { kind: 'cli', apply: refuse, describeSet: refuse, listSet: refuse, monitor: refuse };
const nl = createNetlinkBackend({ cli: noCli });
const cli = createNftBackend();
const ref = (set: string, table = 't'): SetRef => ({ family: 'inet', table, set });

const RULESET = `table inet t {
 set v4 { type ipv4_addr; flags interval; elements = { 0.0.0.0, 1.2.3.4, 10.0.0.0/8, 20.0.0.1-20.0.0.9, 128.0.0.0/31, 255.255.255.0/25, 255.255.255.255 } }
 set top4 { type ipv4_addr; flags interval; elements = { 0.0.0.0/1, 200.0.0.0/8, 201.0.0.0-201.0.0.254, 255.0.0.0/8 } }
 set v6 { type ipv6_addr; flags interval; elements = { ::, ::1.2.3.4, ::ffff:1.2.3.0/120, ::2-::ffff, 2001:db8::/32, 2001:db9::1, fe00::/9, ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe, ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff } }
 set merged { type ipv4_addr; flags interval; auto-merge; elements = { 10.0.0.0/24, 10.0.1.0/24, 10.0.3.7 } }
 set l4 { type ipv4_addr; flags timeout; elements = { 192.0.2.1 timeout 5m, 192.0.2.2 timeout 2h, 192.0.2.3 } }
 set l6 { type ipv6_addr; flags timeout; elements = { 2001:db8::1 timeout 10m, ::ffff:1.2.3.4 timeout 1h, ::1.2.3.4 } }
 set plain { type ipv4_addr; }
 set empty { type ipv4_addr; flags interval; }
}
`;

describe('netlink reads and creates sets on a real kernel', { skip }, () => {
  before(async () => {
    ns = createNftNetns();
    await ns.nft(['-f', '-'], RULESET);
    // nft adds a `0` interval-end element when it fills an empty set: the reader must drop it like nft does.
    await ns.nft(['add', 'element', 'inet', 't', 'empty', '{ 7.7.7.0/24 }']);
  });
  after(() => ns?.teardown());

  test('listSet equals `nft -j list set` element for element: v4/v6 boundary shapes, 0.0.0.0, the top of the space, auto-merged, timeout and plain sets', async () => {
    for (const s of ['v4', 'top4', 'v6', 'merged', 'l4', 'l6', 'plain', 'empty']) {
      const mine = await nl.listSet(ref(s), ns.name);
      assert.deepEqual(mine, await cli.listSet(ref(s), ns.name), `set ${s}`);
    }
    const v4 = await nl.listSet(ref('v4'), ns.name);
    assert.ok(v4.kind === 'ok' && v4.set.elements.length === 7, 'the shapes survived');
  });

  test('a multi-part dump (20k v4 + 8k v6 ranges): listSet equals nft, readRanges is exactly the model written', async () => {
    const m4 = model('ipv4', 20_000, 11);
    const m6 = model('ipv6', 8_000, 12);
    await nl.apply([flushSetCommand(ref('v4')), flushSetCommand(ref('v6')), elementCommand('add', ref('v4'), new RangeElements(m4)), elementCommand('add', ref('v6'), new RangeElements(m6))], ns.name);
    for (const [s, m, family] of [
      ['v4', m4, 'ipv4'],
      ['v6', m6, 'ipv6'],
    ] as const) {
      const r = await nl.readRanges?.(ref(s), ns.name);
      assert.ok(r?.kind === 'ok' && rangeSetsEqual(r.set, m), `readRanges ${s}`);
      const theirs = await cli.listSet(ref(s), ns.name);
      assert.deepEqual(await nl.listSet(ref(s), ns.name), theirs);
      assert.ok(theirs.kind === 'ok' && rangeSetsEqual(exactFromElements(family, theirs.set.elements)!, m));
    }
  });

  test('timeouts and time left equal what nft reports', async () => {
    const raw = JSON.parse(await ns.nft(['-j', 'list', 'set', 'inet', 't', 'l4'])) as { nftables: { set?: { elem?: unknown[] } }[] };
    const theirs = new Map<string, { timeout?: number | undefined; expires?: number | undefined }>();
    for (const e of raw.nftables.find((x) => x.set)?.set?.elem ?? []) {
      if (typeof e === 'string') theirs.set(e, {});
      else {
        const { val, timeout, expires } = (e as { elem: { val: string; timeout?: number; expires?: number } }).elem;
        theirs.set(val, { timeout, expires });
      }
    }
    const { createSetReader } = await import('../../src/lib/nft/netlink/set-reader.js');
    const reader = createSetReader();
    try {
      const r = await reader.readSet(ref('l4'), ns.name);
      assert.ok(r.kind === 'ok' && r.timeoutMs && r.expiresMs);
      assert.equal(r.ranges.size, theirs.size);
      for (let i = 0; i < r.ranges.size; i++) {
        const addr: string = `192.0.2.${r.ranges.data[2 * i]! & 255}`;
        const t = theirs.get(addr);
        assert.ok(t, addr);
        assert.equal(Number.isNaN(r.timeoutMs[i]!) ? undefined : Math.floor(r.timeoutMs[i]! / 1000), t.timeout, `${addr} timeout`);
        if (t.expires === undefined) assert.ok(Number.isNaN(r.expiresMs[i]!), `${addr} never expires`);
        else assert.ok(Math.abs(r.expiresMs[i]! / 1000 - t.expires) <= 2, `${addr} expires ${r.expiresMs[i]} ms vs ${t.expires} s`);
      }
    } finally {
      reader.close();
    }
  });

  test('missing table vs missing set, for listSet, readRanges and describeSet', async () => {
    for (const [r, what] of [
      [ref('nosuch'), 'set'],
      [ref('v4', 'notable'), 'table'],
    ] as const) {
      assert.deepEqual(await nl.listSet(r, ns.name), { kind: 'missing', what });
      assert.deepEqual(await nl.readRanges?.(r, ns.name), { kind: 'missing', what });
      assert.deepEqual(await nl.describeSet(r, ns.name), { kind: 'missing', what });
      assert.deepEqual(await cli.describeSet(r, ns.name), { kind: 'missing', what }, 'nft agrees');
    }
  });

  test('describeSet equals `nft -t list set`: type, flags, auto-merge on and off', async () => {
    for (const s of ['v4', 'v6', 'merged', 'l4', 'l6', 'plain']) assert.deepEqual(await nl.describeSet(ref(s), ns.name), await cli.describeSet(ref(s), ns.name), `set ${s}`);
    assert.deepEqual(await nl.describeSet(ref('merged'), ns.name), { kind: 'ok', type: 'ipv4_addr', flags: ['interval'], autoMerge: true });
    assert.deepEqual(await nl.describeSet(ref('v6'), ns.name), { kind: 'ok', type: 'ipv6_addr', flags: ['interval'], autoMerge: false });
    assert.deepEqual(await nl.describeSet(ref('l4'), ns.name), { kind: 'ok', type: 'ipv4_addr', flags: ['timeout'], autoMerge: false });
  });

  test('createSets over netlink: one batch with the elements, printed by nft exactly like sets made by `nft add set`, and idempotent', async () => {
    const c4 = ref('c4', 'created');
    const c6 = ref('c6', 'created');
    const learned = `{"add":{"set":{"family":"inet","table":"created","name":"cl","type":"ipv6_addr","flags":["timeout"]}}}`;
    const batch = [
      addTableCommand('inet', 'created'),
      addSetCommand(c4, 'ipv4_addr'),
      addSetCommand(c6, 'ipv6_addr'),
      learned,
      flushSetCommand(c4),
      flushSetCommand(c6),
      elementCommand('add', c4, new RangeElements(rangeSetOf('ipv4', ['10.0.0.0/8', '1.2.3.4']))),
    ];
    await nl.apply(batch, ns.name);
    await nl.apply(batch, ns.name);
    await ns.nft(
      ['-f', '-'],
      'table inet byhand {\n set c4 { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 1.2.3.4 } }\n set c6 { type ipv6_addr; flags interval; }\n set cl { type ipv6_addr; flags timeout; }\n}\n',
    );
    const text = async (t: string) => (await ns.nft(['list', 'table', 'inet', t])).replace(`table inet ${t} `, 'table inet X ');
    assert.equal(await text('created'), await text('byhand'));
    // A set that exists with another type is refused, and the error names it.
    await assert.rejects(
      nl.apply([addSetCommand(ref('v4'), 'ipv6_addr')], ns.name),
      (e: unknown) => e instanceof NftSetError && /add set inet t v4: EEXIST/.test(e.message) && e.sets.length === 1 && e.sets[0]?.set === 'v4',
    );
  });

  test('a refused transaction names the set it was refused for, whatever its place in the batch', async () => {
    await ns.nft(['-f', '-'], 'table inet g {\n set force_vpn4 { type ipv4_addr; flags interval; }\n set force_vpn6 { type ipv6_addr; flags interval; }\n}\n');
    const r4 = ref('force_vpn4', 'g');
    const r6 = ref('force_vpn6', 'g');
    const m4 = model('ipv4', 20_000, 5);
    await nl.apply(
      [flushSetCommand(r4), flushSetCommand(r6), elementCommand('add', r4, new RangeElements(m4)), elementCommand('add', r6, new RangeElements(rangeSetOf('ipv6', ['2001:db8::/48'])))],
      ns.name,
    );
    const clash6 = elementCommand('add', r6, new RangeElements(rangeSetOf('ipv6', ['2001:db8::/64'])));
    // Valid v4 ops spanning several messages, before and after the refused v6 one.
    const part4 = elementCommand('delete', r4, new RangeElements({ family: 'ipv4', size: 5_000, data: m4.data.slice(0, 10_000) }));
    for (const cmds of [
      [part4, clash6],
      [clash6, part4],
      [flushSetCommand(r4), elementCommand('add', r4, new RangeElements(m4)), clash6],
    ]) {
      await assert.rejects(
        nl.apply(cmds, ns.name),
        (e: unknown) => e instanceof NftSetError && e.sets.map((s) => s.set).join() === 'force_vpn6' && /add element inet g force_vpn6: EEXIST/.test(e.message) && !/force_vpn4/.test(e.message),
      );
    }
    const left = await nl.readRanges?.(r4, ns.name);
    assert.ok(left?.kind === 'ok' && rangeSetsEqual(left.set, m4), 'nothing of the refused batches applied');
  });

  test("set-sync: the status of a set that was not at fault does not carry the other set's error as its own", async () => {
    await ns.nft(['-f', '-'], 'table inet h {\n set force_vpn4 { type ipv4_addr; flags interval; }\n set force_vpn6 { type ipv4_addr; flags interval; }\n}\n');
    const sync = createSetSync({ logger: pino({ level: 'silent' }), registry: new Registry(), backend: createNetlinkBackend() });
    const target = { list: 'vpn', family: 'inet' as const, table: 'h', set4: 'force_vpn4', set6: 'force_vpn6', netns: ns.name, createSets: false };
    await assert.rejects(sync.apply(target, { ipv4: rangeSetOf('ipv4', ['1.2.3.4']), ipv6: rangeSetOf('ipv6', ['2001:db8::1']) }), /force_vpn6 whose key is 4 bytes/);
    const st = new Map(sync.status().map((s) => [s.set.split(' ')[2], s.lastError ?? '']));
    assert.match(st.get('force_vpn6')!, /^nft: netlink: add element inet h force_vpn6: an ipv6 element for set force_vpn6 whose key is 4 bytes$/);
    assert.match(st.get('force_vpn4')!, /^set-sync: inet h force_vpn4 \(netns \S+\) not applied: it is written in one transaction with inet h force_vpn6, which failed: /);
    await sync.stop();
  });
});
