import assert from 'node:assert/strict';
import { test } from 'node:test';
import { padProxyV2, proxyV2Header } from '../../../src/lib/net/proxy-v2.js';

/** Expected bytes written out by hand from proxy-protocol.txt §2.2 (signature, ver_cmd, fam, len, addresses, ports). */
const SIG = '0d0a0d0a000d0a515549540a';

test('PROXYv2 header bytes: TCP/UDP over IPv4 and IPv6, mapped IPv4, mixed families', () => {
  const cases: [string, 'tcp' | 'udp', string, number, string, number, string][] = [
    ['udp4', 'udp', '10.77.0.23', 40000, '10.77.0.1', 53, `${SIG}2112000c0a4d00170a4d00019c400035`],
    ['tcp4', 'tcp', '192.0.2.1', 1, '127.0.0.1', 65535, `${SIG}2111000cc00002017f0000010001ffff`],
    ['udp6', 'udp', 'fd01::23', 5353, 'fd01::1', 53, `${SIG}21220024fd010000000000000000000000000023fd01000000000000000000000000000114e90035`],
    ['tcp6', 'tcp', '2001:db8:1:2:3:4:5:6', 443, '::1', 853, `${SIG}2121002420010db80001000200030004000500060000000000000000000000000000000101bb0355`],
    ['mapped → IPv4', 'udp', '::ffff:10.77.0.9', 1234, '::ffff:10.77.0.1', 53, `${SIG}2112000c0a4d00090a4d000104d20035`],
    ['v4 source, v6 destination → IPv6 with mapped source', 'tcp', '10.0.0.1', 2, 'fd01::1', 53, `${SIG}2121002400000000000000000000ffff0a000001fd01000000000000000000000000000100020035`],
    ['zone id ignored', 'udp', 'fe80::1%eth0', 7, 'fe80::2%eth0', 53, `${SIG}21220024fe800000000000000000000000000001fe80000000000000000000000000000200070035`],
  ];
  for (const [what, transport, src, sport, dst, dport, hex] of cases) {
    assert.equal(proxyV2Header(transport, { address: src, port: sport }, { address: dst, port: dport }).toString('hex'), hex, what);
  }
});

test('PROXYv2: a non-address is a bug, not a silent zero', () => {
  assert.throws(() => proxyV2Header('udp', { address: 'localhost', port: 1 }, { address: '127.0.0.1', port: 53 }), /not an IP address/);
});

test('padProxyV2: a NOOP TLV after the addresses, the length field grown with it, the payload moved intact; 1–2 bytes or a non-PROXY datagram refused', () => {
  const header = proxyV2Header('udp', { address: '10.77.0.23', port: 40000 }, { address: '10.77.0.1', port: 53 });
  const query = Buffer.from('dns-query-bytes');
  const slot = Buffer.alloc(256, 0xee);
  Buffer.concat([header, query]).copy(slot, 10);
  const len = header.length + query.length;
  assert.equal(padProxyV2(slot, 10, len, len + 1), false, 'a TLV is at least 3 bytes');
  assert.equal(padProxyV2(slot, 10, len, len + 2), false);
  assert.equal(padProxyV2(slot, 10, len, len), true, 'nothing to grow');
  assert.equal(padProxyV2(slot, 10, len, len + 10), true);
  const out = slot.subarray(10, 10 + len + 10);
  assert.equal(out.subarray(0, 14).toString('hex'), header.subarray(0, 14).toString('hex'), 'signature, version, family untouched');
  assert.equal(out.readUInt16BE(14), 12 + 10, 'the header now covers the addresses and the TLV');
  assert.equal(out.subarray(16, 28).toString('hex'), header.subarray(16, 28).toString('hex'), 'addresses untouched');
  assert.deepEqual([...out.subarray(28, 38)], [0x04, 0, 7, 0, 0, 0, 0, 0, 0, 0], 'PP2_TYPE_NOOP, length 7, zeros');
  assert.equal(out.subarray(38).toString(), 'dns-query-bytes', 'the payload follows the grown header');
  assert.equal(slot[10 + len + 10], 0xee, 'nothing written past the new end');
  assert.equal(padProxyV2(slot, 0, 40, 50), false, 'not a PROXYv2 datagram where it starts');
  assert.equal(padProxyV2(slot, 10, len + 10, 300), false, 'past the buffer');
});
