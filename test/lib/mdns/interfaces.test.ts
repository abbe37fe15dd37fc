import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkInterfaceInfo } from 'node:os';
import { inCidr, isLinkLocalV6, isOnLink, isPrivateV4, isUlaV6, selectInterfaces, type SystemInterface } from '../../../src/lib/mdns/interfaces.js';

const v4 = (address: string, prefix: number, internal = false): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv4', mac: '', internal, cidr: `${address}/${prefix}` }) as NetworkInterfaceInfo;
const v6 = (address: string, prefix: number, internal = false): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv6', mac: '', internal, cidr: `${address}/${prefix}`, scopeid: 0 }) as NetworkInterfaceInfo;
const UP_MULTICAST = 0x1003;

const SYSTEM: SystemInterface[] = [
  { name: 'lo', flags: 0x9, addresses: [v4('127.0.0.1', 8, true), v6('::1', 128, true)] },
  { name: 'wan', flags: UP_MULTICAST, addresses: [v4('203.0.113.7', 24), v6('2001:db8::7', 64), v6('fe80::1', 64)] },
  { name: 'br-lan', flags: UP_MULTICAST, addresses: [v4('192.168.1.1', 24), v6('fd00:1::1', 64), v6('fe80::2', 64)] },
  { name: 'wlan-guest', flags: UP_MULTICAST, addresses: [v4('172.20.0.1', 16)] },
  { name: 'iot', flags: UP_MULTICAST, addresses: [v6('fd42::1', 64), v6('fe80::3', 64)] },
  { name: 'zeroconf', flags: UP_MULTICAST, addresses: [v4('169.254.3.4', 16)] },
  { name: 'tun0', flags: 0x10d1 & ~0x1000, addresses: [v4('10.8.0.1', 24)] }, // POINTOPOINT, no MULTICAST
  { name: 'down0', flags: 0x1002, addresses: [v4('10.9.0.1', 24)] },
  { name: 'v6only-wan', flags: UP_MULTICAST, addresses: [v6('2001:db8:1::1', 64), v6('fe80::9', 64)] },
];

const summary = (sel: ReturnType<typeof selectInterfaces>): string[] => sel.targets.map((t) => `${t.ifname}/${t.family}/${t.address}`);

test('default selection: up, multicast, not loopback, with a private or ULA address', () => {
  const sel = selectInterfaces(SYSTEM);
  assert.deepEqual(summary(sel), ['br-lan/4/192.168.1.1', 'br-lan/6/fe80::2', 'wlan-guest/4/172.20.0.1', 'iot/6/fe80::3', 'zeroconf/4/169.254.3.4']);
  const reasons = Object.fromEntries(sel.skipped.map((s) => [s.ifname, s.reason]));
  assert.equal(reasons.lo, 'loopback');
  assert.match(reasons.wan ?? '', /no private/);
  assert.match(reasons['v6only-wan'] ?? '', /no private/, 'an fe80:: address alone does not make a WAN a LAN');
  assert.equal(reasons.tun0, 'not multicast-capable');
  assert.equal(reasons.down0, 'down');
});

test('mdns.interfaces names them outright (public addresses allowed), still refusing loopback and non-multicast', () => {
  const sel = selectInterfaces(SYSTEM, ['wan', 'lo', 'tun0', 'missing']);
  assert.deepEqual(summary(sel), ['wan/4/203.0.113.7', 'wan/6/fe80::1']);
  assert.deepEqual(
    sel.skipped.map((s) => s.ifname),
    ['lo', 'tun0', 'missing'],
  );
  assert.deepEqual(selectInterfaces(SYSTEM, []).targets, [], '[] turns native querying off');
});

test('unknown flags (no sysfs) are trusted; a private IPv4 is preferred as the source', () => {
  const sel = selectInterfaces([{ name: 'eth0', flags: undefined, addresses: [v4('198.51.100.2', 24), v4('10.0.0.2', 8)] }]);
  assert.deepEqual(summary(sel), ['eth0/4/10.0.0.2']);
  assert.deepEqual(sel.targets[0]?.cidrs, ['198.51.100.2/24', '10.0.0.2/8']);
});

test('on-link check of reply sources (RFC 6762 §11)', () => {
  const [t4, t6] = selectInterfaces(SYSTEM, ['br-lan']).targets;
  assert.ok(t4 && t6);
  assert.equal(isOnLink('192.168.1.77', t4), true);
  assert.equal(isOnLink('192.168.2.77', t4), false);
  assert.equal(isOnLink('169.254.9.9', t4), true);
  assert.equal(isOnLink('8.8.8.8', t4), false);
  assert.equal(isOnLink('fe80::99%br-lan', t6), true);
  assert.equal(isOnLink('fd00:1::99', t6), true);
  assert.equal(isOnLink('fd00:2::99', t6), false);
  assert.equal(isOnLink('192.168.1.77', t6), false, 'family must match the socket');
});

test('inCidr', () => {
  assert.equal(inCidr('10.77.0.2', '10.77.0.1/24'), true);
  assert.equal(inCidr('10.77.1.2', '10.77.0.1/24'), false);
  assert.equal(inCidr('172.31.255.255', '172.16.0.0/12'), true);
  assert.equal(inCidr('fd77::2', 'fd77::1/64'), true);
  assert.equal(inCidr('fd77:0:0:1::2', 'fd77::1/64'), false);
  assert.equal(inCidr('::ffff:10.0.0.1', '::ffff:10.0.0.0/120'), true);
  assert.equal(inCidr('10.0.0.1', 'fd77::1/64'), false);
  assert.equal(inCidr('fe80::1%br-lan', 'fe80::99%br-lan/64'), true, 'scope suffixes are dropped');
  assert.equal(inCidr('10.0.0.2', '10.0.0.1'), false, 'a bare address is a /32, not /0');
  assert.equal(inCidr('010.0.0.1', '10.0.0.0/8'), false, 'no octal look-alikes');
});

test('private, ULA and link-local are decided on the address, not on how its text starts', () => {
  assert.deepEqual(['10.1.2.3', '172.16.0.1', '172.31.9.9', '192.168.0.1', '169.254.1.1', '172.32.0.1', '11.0.0.1'].map(isPrivateV4), [true, true, true, true, true, false, false]);
  assert.deepEqual(['fd00::1', 'FC01::1', 'fc::1', 'fe80::1'].map(isUlaV6), [true, true, false, false]);
  assert.deepEqual(['fe80::1%eth0', 'FEBF::1', 'fe8::1', 'fec0::1'].map(isLinkLocalV6), [true, true, false, false]);
});
