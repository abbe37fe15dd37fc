import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createZoneTable } from '../../src/dns-server/zone-policy.js';

/** A message whose question name starts at offset 12 (the header bytes do not matter here). */
const msgFor = (...labels: string[]) => {
  const name = Buffer.from([...labels.flatMap((l) => [Buffer.byteLength(l, 'latin1'), ...Buffer.from(l, 'latin1')]), 0]);
  return { msg: Buffer.concat([Buffer.alloc(12), name]), nameEnd: 12 + name.length };
};

test('longest-suffix, case-insensitive, label-exact zone match', () => {
  const zones = createZoneTable(['local.', '10.in-addr.arpa.', '77.10.in-addr.arpa.'], 30, 1);
  const cases: [string[], string | undefined, boolean][] = [
    [['printer', 'local'], 'local.', false],
    [['LOCAL'], 'local.', true],
    [['5', '0', '77', '10', 'in-addr', 'arpa'], '77.10.in-addr.arpa.', false],
    [['77', '10', 'IN-ADDR', 'arpa'], '77.10.in-addr.arpa.', true],
    [['5', '0', '78', '10', 'in-addr', 'arpa'], '10.in-addr.arpa.', false],
    [['example', 'com'], undefined, false],
    [['local', 'example', 'com'], undefined, false],
    [['notlocal'], undefined, false],
    [['evil.local'], undefined, false], // one label containing a dot
    [[], undefined, false], // the root
  ];
  for (const [labels, zone, apex] of cases) {
    const { msg, nameEnd } = msgFor(...labels);
    const hit = zones.match(msg, nameEnd);
    assert.equal(hit === undefined ? undefined : zones.zones[hit.index], zone, labels.join('.'));
    if (hit) assert.equal(hit.apex, apex, `apex ${labels.join('.')}`);
  }
});

test('SOA: RFC 2308 shape with the negative TTL as TTL and MINIMUM', () => {
  const soa = createZoneTable(['local.'], 45, 0x01020304).soa(0);
  assert.equal(soa.name, 'local.');
  assert.equal(soa.type, 6);
  assert.equal(soa.ttl, 45);
  const d = Buffer.from(soa.data);
  const mname = Buffer.from('096c6f63616c686f737400', 'hex');
  const rname = Buffer.from('066e6f626f647907696e76616c696400', 'hex');
  assert.deepEqual(d.subarray(0, mname.length + rname.length), Buffer.concat([mname, rname]));
  const nums = d.subarray(mname.length + rname.length);
  assert.deepEqual(
    [0, 4, 8, 12, 16].map((o) => nums.readUInt32BE(o)),
    [0x01020304, 3600, 600, 86400, 45],
  );
});

test('zones must be lowercase absolute', () => {
  assert.throws(() => createZoneTable(['Local.'], 30, 1), /lowercase and absolute/);
  assert.throws(() => createZoneTable(['local'], 30, 1), /lowercase and absolute/);
});
