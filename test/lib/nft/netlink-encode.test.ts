import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rangeSetOf } from '../../../src/lib/ip-prefix/index.js';
import { translate } from '../../../src/lib/nft/netlink/commands.js';
import { NlWriter, parseAttrs } from '../../../src/lib/nft/netlink/nl-writer.js';
import { encodeElemOp, itemOf, NFT_SET_INTERVAL } from '../../../src/lib/nft/netlink/set-elements.js';
import { addSetCommand, addTableCommand, elementCommand, flushSetCommand, RangeElements } from '../../../src/lib/nft/nft-json.js';

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
  assert.throws(() => encodeElemOp(new NlWriter(), { ...single, elems: { kind: 'items', items: [itemOf({ prefix: { addr: '10.0.0.0', len: 8 } })!] } }, { flags: 0, keyLen: 4 }, () => 1, 1), /no interval flag/);
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
  assert.deepEqual(t?.ops.map((o) => o.op), ['flush', 'add']);
  assert.equal(translate([flushSetCommand(ref), addTableCommand('inet', 't')]), undefined, 'a create after an element op');
  assert.equal(translate(['{"delete":{"set":{"family":"inet","table":"t","name":"s"}}}']), undefined);
  assert.equal(translate([elementCommand('add', ref, ['{"concat":["a","b"]}'])]), undefined);
});
