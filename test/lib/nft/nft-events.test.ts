import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNftDatagram } from '../../../src/lib/nft/netlink/nft-events.js';
import { NlWriter } from '../../../src/lib/nft/netlink/nl-writer.js';

/** One notification as the kernel sends it: nlmsghdr with the sender's portid, nfgenmsg, attributes. */
function msg(w: NlWriter, type: number, portid: number, family: number, attrs: (w: NlWriter) => void): void {
  const at = w.beginMsg((10 << 8) | type, 0, 7, family, 0);
  w.buf.writeUInt32LE(portid, at + 12);
  attrs(w);
  w.endMsg(at);
}

const elems = (n: number) => (w: NlWriter) => {
  w.str(1, 't');
  w.str(2, 'v4');
  const nest = w.beginNest(3);
  for (let i = 0; i < n; i++) {
    const e = w.beginNest(1);
    const k = w.beginNest(1);
    w.addr(1, [0x0a000000 + i], 0, 1);
    w.endNest(k);
    w.endNest(e);
  }
  w.endNest(nest);
};

test('notifications become events with their sender; element runs of one sender and set merge', () => {
  const w = new NlWriter(256);
  msg(w, 12, 42, 1, elems(2)); // NEWSETELEM inet t v4, from portid 42
  msg(w, 12, 42, 1, elems(3));
  msg(w, 12, 99, 1, elems(1)); // another sender: not merged
  msg(w, 14, 99, 1, elems(4)); // DELSETELEM
  msg(w, 3, 99, 1, (x) => x.str(1, 't')); // NEWCHAIN: not followed
  msg(w, 11, 99, 2, (x) => (x.str(1, 'filter'), x.str(2, 's'))); // DELSET ip filter s
  msg(w, 2, 99, 10, (x) => x.str(1, 'six')); // DELTABLE ip6 six
  msg(w, 0, 7, 7, (x) => x.str(1, 'br')); // NEWTABLE bridge: not a family we follow
  msg(w, 29, 5, 1, (x) => (x.str(1, 't'), x.str(2, 'v6'))); // DESTROYSET (Linux ≥ 6.3)
  msg(w, 15, 99, 0, (x) => x.be32(1, 1234)); // NEWGEN
  assert.deepEqual(parseNftDatagram(w.bytes()), [
    { portid: 42, kind: 'element', op: 'add', family: 'inet', table: 't', set: 'v4', count: 5 },
    { portid: 99, kind: 'element', op: 'add', family: 'inet', table: 't', set: 'v4', count: 1 },
    { portid: 99, kind: 'element', op: 'delete', family: 'inet', table: 't', set: 'v4', count: 4 },
    { portid: 99, kind: 'set', op: 'delete', family: 'ip', table: 'filter', set: 's' },
    { portid: 99, kind: 'table', op: 'delete', family: 'ip6', table: 'six' },
    { portid: 5, kind: 'set', op: 'delete', family: 'inet', table: 't', set: 'v6' },
    { portid: 99, kind: 'gen', genId: 1234 },
  ]);
});

test('a truncated message ends the datagram without throwing', () => {
  const w = new NlWriter(256);
  msg(w, 12, 42, 1, elems(2));
  const b = Buffer.from(w.bytes());
  b.writeUInt32LE(b.length + 40, 0); // claims more than there is
  assert.deepEqual(parseNftDatagram(b), []);
});
