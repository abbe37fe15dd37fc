import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddress, rangeSetOf, rangeTexts } from '../../../src/lib/ip-prefix/index.js';
import { NlWriter } from '../../../src/lib/nft/netlink/nl-writer.js';
import { ElementSink } from '../../../src/lib/nft/netlink/set-dump.js';
import { nftAddressText, nftElement } from '../../../src/lib/nft/netlink/set-reader.js';
import { NFTA_DATA_VALUE, NFTA_LIST_ELEM, NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_LIST_ELEMENTS, NFT_SET_ELEM_INTERVAL_END } from '../../../src/lib/nft/netlink/set-elements.js';

/** One dump part's payload (nfgenmsg + ELEMENTS) with boundaries given as `addr` (start) or `addr!` (end). */
function part(bounds: readonly string[]): Buffer {
  const w = new NlWriter(256);
  w.ensure(4);
  w.buf.writeUInt32LE(0, 0);
  w.len = 4;
  const nest = w.beginNest(NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const b of bounds) {
    const a = parseAddress(b.replace('!', ''))!;
    const e = w.beginNest(NFTA_LIST_ELEM);
    const k = w.beginNest(NFTA_SET_ELEM_KEY);
    w.addr(NFTA_DATA_VALUE, a.words, 0, a.words.length);
    w.endNest(k);
    if (b.endsWith('!')) w.be32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    w.endNest(e);
  }
  w.endNest(nest);
  return Buffer.from(w.bytes());
}

const ranges = (family: 'ipv4' | 'ipv6', ...parts: string[][]): string[] => {
  const s = new ElementSink(family, false);
  for (const p of parts) s.addMessage(part(p));
  return rangeTexts(s.toRanges());
};

test('boundaries pair like nft: end exclusive, an open start runs to the top, a stray end (nft 0-element) is dropped', () => {
  // The kernel's order (highest key first, a start before an end at the same key), over two parts.
  assert.deepEqual(ranges('ipv4', ['255.0.0.0', '11.0.0.0!', '10.0.0.0'], ['2.0.0.0!', '1.2.3.4', '0.0.0.1!', '0.0.0.0', '0.0.0.0!']), [
    '0.0.0.0',
    '1.2.3.4-1.255.255.255',
    '10.0.0.0/8',
    '255.0.0.0/8',
  ]);
  // Shuffled input is sorted; adjacent ranges stay two (an end and a start at one key: end first).
  assert.deepEqual(ranges('ipv4', ['10.0.1.0!', '10.0.0.128', '10.0.0.0', '10.0.0.128!']), ['10.0.0.0/25', '10.0.0.128/25']);
  // A start after a start closes the first at the second's key - 1 (segtree.c interval_map_decompose).
  assert.deepEqual(ranges('ipv4', ['10.0.0.9!', '10.0.0.5', '10.0.0.0']), ['10.0.0.0-10.0.0.4', '10.0.0.5-10.0.0.8']);
  assert.deepEqual(ranges('ipv6', ['ffff::', '2001:db9::!', '2001:db8::', '::!']), ['2001:db8::/32', 'ffff::/16']);
});

test('a key of the wrong length is counted, not decoded as an address', () => {
  const s = new ElementSink('ipv6', false);
  s.addMessage(part(['1.2.3.4']));
  assert.equal(s.size, 0);
  assert.equal(s.foreign, 1);
});

test('addresses and shapes as nft prints them (inet_ntop, add_interval)', () => {
  const six = (t: string) => nftAddressText('ipv6', parseAddress(t)!.words, 0);
  assert.equal(six('::1.2.3.4'), '::1.2.3.4');
  assert.equal(six('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
  assert.equal(six('::ffff:0.0.0.0'), '::ffff:0.0.0.0');
  assert.equal(six('::1:0'), '::0.1.0.0');
  assert.equal(six('::1'), '::1');
  assert.equal(six('::'), '::');
  assert.equal(six('2001:db8::1'), '2001:db8::1');
  const shapes = (family: 'ipv4' | 'ipv6', entries: string[]) => {
    const r = rangeSetOf(family, entries);
    return Array.from({ length: r.size }, (_, i) => nftElement(r, i));
  };
  assert.deepEqual(shapes('ipv4', ['0.0.0.0/0']), [{ prefix: { addr: '0.0.0.0', len: 0 } }]);
  assert.deepEqual(shapes('ipv4', ['1.2.3.4', '10.0.0.0/8', '20.0.0.1-20.0.0.9', '30.0.0.0-30.0.1.255']), [
    '1.2.3.4',
    { prefix: { addr: '10.0.0.0', len: 8 } },
    { range: ['20.0.0.1', '20.0.0.9'] },
    { prefix: { addr: '30.0.0.0', len: 23 } },
  ]);
  assert.deepEqual(shapes('ipv6', ['::/96', '2001:db8::/33', '2001:db9::1-2001:db9::1:0']), [
    { prefix: { addr: '::', len: 96 } },
    { prefix: { addr: '2001:db8::', len: 33 } },
    { range: ['2001:db9::1', '2001:db9::1:0'] },
  ]);
});
