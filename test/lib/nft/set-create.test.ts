import assert from 'node:assert/strict';
import { test } from 'node:test';
import { translate } from '../../../src/lib/nft/netlink/commands.js';
import { NlWriter, parseAttrs } from '../../../src/lib/nft/netlink/nl-writer.js';
import { encodeCreate } from '../../../src/lib/nft/netlink/set-create.js';
import { parseSetUserdata } from '../../../src/lib/nft/netlink/set-info.js';
import { addSetCommand, addTableCommand } from '../../../src/lib/nft/nft-json.js';

const ref = { family: 'inet', table: 't', set: 's' } as const;
const set = (body: Record<string, unknown>) => JSON.stringify({ add: { set: { family: 'inet', table: 't', name: 's', ...body } } });

test('translate: the creates set-sync and the learner write become netlink creates; any other shape sends the transaction to nft', () => {
  assert.deepEqual(translate([addTableCommand('inet', 't'), addSetCommand(ref, 'ipv6_addr'), set({ type: 'ipv4_addr', flags: ['timeout'] })])?.create, [
    { op: 'table', family: 'inet', table: 't' },
    { op: 'set', ref, type: 'ipv6_addr', flags: ['interval'] },
    { op: 'set', ref, type: 'ipv4_addr', flags: ['timeout'] },
  ]);
  for (const other of [
    set({ type: 'ipv4_addr', flags: ['interval'], 'auto-merge': true }),
    set({ type: 'ipv4_addr', timeout: 300 }),
    set({ type: 'ether_addr' }),
    set({ type: 'ipv4_addr', flags: ['constant'] }),
    '{"add":{"table":{"family":"inet","name":"t","flags":["dormant"]}}}',
  ]) {
    assert.equal(translate([other]), undefined, other);
  }
});

test('NEWSET carries what nft sends for `type ipv4_addr; flags interval` (nft --debug=mnl): datatype 7, key 4 bytes, flags, set id, key byteorder in userdata', () => {
  const w = new NlWriter(64);
  encodeCreate(w, { op: 'set', ref, type: 'ipv4_addr', flags: ['interval'] }, 42, 3);
  const msg = w.bytes();
  assert.equal(msg.readUInt16LE(4), (10 << 8) | 9, 'NFT_MSG_NEWSET');
  assert.equal(msg.readUInt16LE(6), 0x401, 'NLM_F_REQUEST | NLM_F_CREATE, no NLM_F_EXCL');
  const a = parseAttrs(msg.subarray(16));
  assert.equal(a.get(1)?.toString('latin1'), 't\0');
  assert.equal(a.get(2)?.toString('latin1'), 's\0');
  assert.equal(a.get(3)?.readUInt32BE(0), 4, 'NFT_SET_INTERVAL');
  assert.equal(a.get(4)?.readUInt32BE(0), 7, 'TYPE_IPADDR');
  assert.equal(a.get(5)?.readUInt32BE(0), 4);
  assert.equal(a.get(10)?.readUInt32BE(0), 3, 'NFTA_SET_ID');
  assert.equal(a.get(13)?.toString('hex'), '000402000000', 'NFTNL_UDATA_SET_KEYBYTEORDER = BYTEORDER_BIG_ENDIAN');
  assert.deepEqual(
    [...parseSetUserdata(Buffer.from('000402000000020401000000', 'hex'))],
    [
      [0, 2],
      [2, 1],
    ],
    'with auto-merge (NFTNL_UDATA_SET_MERGE_ELEMENTS)',
  );
  const t = new NlWriter(64);
  encodeCreate(t, { op: 'table', family: 'ip6', table: 'x' }, 1, 0);
  assert.equal(t.bytes().readUInt16LE(4), 10 << 8, 'NFT_MSG_NEWTABLE');
  assert.equal(t.bytes().readUInt8(16), 10, 'NFPROTO_IPV6');
  assert.equal(parseAttrs(t.bytes().subarray(16)).get(2)?.readUInt32BE(0), 0, 'NFTA_TABLE_FLAGS 0');
});
