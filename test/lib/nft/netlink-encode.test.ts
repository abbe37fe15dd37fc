import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddress, rangeSetOf } from '../../../src/lib/ip-prefix/index.js';
import { translate } from '../../../src/lib/nft/netlink/commands.js';
import { NlWriter, parseAttrs } from '../../../src/lib/nft/netlink/nl-writer.js';
import { encodeElemOp, itemOf, NFT_SET_INTERVAL } from '../../../src/lib/nft/netlink/set-elements.js';
import { addSetCommand, addTableCommand, AddressElements, elementCommand, flushSetCommand, RangeElements } from '../../../src/lib/nft/nft-json.js';

const ref = { family: 'inet', table: 't', set: 's' } as const;

test('an interval is start + (end+1 flagged INTERVAL_END); an end at the top of the space has no end element', () => {
  const w = new NlWriter(64);
  let seq = 100;
  encodeElemOp(w, { op: 'add', ref, elems: { kind: 'ranges', set: rangeSetOf('ipv4', ['10.0.0.0/8', '255.255.255.255']) } }, { flags: NFT_SET_INTERVAL, keyLen: 4 }, () => ++seq, 1);
  const msg = w.bytes();
  assert.equal(msg.readUInt32LE(0), msg.length, 'nlmsg_len');
  assert.equal(msg.readUInt16LE(4), (10 << 8) | 12, 'NFT_MSG_NEWSETELEM');
  assert.equal(msg.readUInt8(16), 1, 'NFPROTO_INET');
  const attrs = parseAttrs(msg.subarray(16));
  assert.equal(attrs.get(1)?.toString('latin1'), 't\0');
  assert.equal(attrs.get(2)?.toString('latin1'), 's\0');
  const hex = attrs.get(3)!.toString('hex');
  // start 10.0.0.0; end 11.0.0.0 + flags 1; start 255.255.255.255 and nothing after it.
  assert.ok(hex.includes('0a000000') && hex.includes('0b000000') && hex.includes('0800030000000001') && hex.endsWith('ffffffff'), hex);
  assert.equal((hex.match(/08000300/g) ?? []).length, 1, 'one flags attribute');
});

test('a set without the interval flag takes single addresses only; a family mismatch is refused', () => {
  const w = new NlWriter();
  const single = { op: 'add' as const, ref, elems: { kind: 'items' as const, items: [itemOf('192.0.2.1')!] } };
  encodeElemOp(w, single, { flags: 0, keyLen: 4 }, () => 1, 1);
  assert.throws(
    () => encodeElemOp(new NlWriter(), { ...single, elems: { kind: 'items', items: [itemOf({ prefix: { addr: '10.0.0.0', len: 8 } })!] } }, { flags: 0, keyLen: 4 }, () => 1, 1),
    /no interval flag/,
  );
  assert.throws(() => encodeElemOp(new NlWriter(), single, { flags: 0, keyLen: 16 }, () => 1, 1), /key is 16 bytes/);
});

test('JSON elements narrow to first/last words (prefixes masked, timeouts in ms)', () => {
  assert.deepEqual([...itemOf({ prefix: { addr: '10.1.2.3', len: 8 } })!.last], [0x0affffff]);
  assert.deepEqual([...itemOf({ prefix: { addr: '10.1.2.3', len: 8 } })!.first], [0x0a000000]);
  assert.equal(itemOf({ elem: { val: '2001:db8::1', timeout: 300 } })?.timeoutMs, 300_000);
  assert.equal(itemOf({ concat: [] }), undefined);
  assert.equal(itemOf('not-an-address'), undefined);
});

test('translate: elements and flushes are netlink, creates go first, anything else sends the whole transaction to nft', () => {
  const t = translate([addTableCommand('inet', 't'), addSetCommand(ref, 'ipv4_addr'), flushSetCommand(ref), elementCommand('add', ref, new RangeElements(rangeSetOf('ipv4', ['1.2.3.4'])))]);
  assert.equal(t?.create.length, 2);
  assert.deepEqual(
    t?.ops.map((o) => o.op),
    ['flush', 'add'],
  );
  assert.equal(translate([flushSetCommand(ref), addTableCommand('inet', 't')]), undefined, 'a create after an element op');
  assert.equal(translate(['{"delete":{"set":{"family":"inet","table":"t","name":"s"}}}']), undefined);
  assert.equal(translate([elementCommand('add', ref, ['{"concat":["a","b"]}'])]), undefined);
});

test('translate: typed commands are encoded from their values, the same ops their JSON form parses to', () => {
  const a = parseAddress('2a00:1450::5');
  assert.ok(a);
  const typed = [
    addTableCommand('inet', 't'),
    addSetCommand({ ...ref, set: 'l6' }, 'ipv6_addr', ['timeout']),
    elementCommand('add', { ...ref, set: 'l6' }, new AddressElements([{ family: 'ipv6', words: a.words, text: '2a00:1450::5', timeoutSeconds: 90 }])),
    elementCommand('delete', { ...ref, set: 'l6' }, new AddressElements([{ family: 'ipv6', words: a.words, text: '2a00:1450::5' }])),
  ];
  const fromValues = translate(typed);
  const fromJson = translate(typed.map((c) => [...c].join('')));
  assert.ok(fromValues && fromJson);
  assert.deepEqual(fromValues, fromJson);
  assert.deepEqual(fromValues.create[1], { op: 'set', ref: { ...ref, set: 'l6' }, type: 'ipv6_addr', flags: ['timeout'] });
  const add = fromValues.ops[0];
  assert.ok(add && add.op === 'add' && add.elems.kind === 'items');
  assert.equal(add.elems.items[0]?.timeoutMs, 90_000);
  // No JSON is read for them: a typed command whose JSON form would not parse still translates.
  const parse = JSON.parse;
  JSON.parse = () => {
    throw new Error('JSON.parse called');
  };
  try {
    assert.deepEqual(translate(typed), fromValues);
  } finally {
    JSON.parse = parse;
  }
});
