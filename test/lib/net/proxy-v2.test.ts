import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyV2Header } from '../../../src/lib/net/proxy-v2.js';

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
