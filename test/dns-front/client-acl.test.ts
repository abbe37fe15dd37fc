import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { buildClientAcl } from '../../src/dns-front/client-acl.js';
import { parseConfig } from '../../src/config/index.js';

const iface = (address: string, cidr: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo =>
  ({ address, cidr, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const interfaces = {
  'br-lan': [iface('10.77.0.1', '10.77.0.1/24', 'IPv4'), iface('fd01::1', 'fd01::1/64', 'IPv6')],
  wan: [iface('203.0.113.2', '203.0.113.2/24', 'IPv4')],
};

test('default ACL: loopback + the networks of the interfaces holding the listen addresses; never the WAN', () => {
  const acl = buildClientAcl(['10.77.0.1', 'fd01::1'], undefined, interfaces);
  assert.deepEqual(acl.prefixes, ['127.0.0.0/8', '::1/128', '10.77.0.1/24', 'fd01::1/64']);
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['::1', true],
    ['10.77.0.200', true],
    ['::ffff:10.77.0.9', true],
    ['fd01::abcd', true],
    ['10.77.1.1', false],
    ['203.0.113.9', false],
    ['fd02::1', false],
    ['8.8.8.8', false],
    ['fe80::1%br-lan', false],
  ];
  for (const [addr, ok] of table) assert.equal(acl.allows(addr), ok, addr);
  assert.deepEqual(acl.unmatched, []);
});

test('wildcard or absent listen address: only loopback by default, and it is reported', () => {
  const acl = buildClientAcl(['0.0.0.0', '10.99.0.1'], undefined, interfaces);
  assert.deepEqual(acl.unmatched, ['0.0.0.0', '10.99.0.1']);
  assert.equal(acl.allows('203.0.113.9'), false);
  assert.equal(acl.allows('127.0.0.1'), true);
});

test('front.allow replaces the default; bad prefixes are config errors naming the path', () => {
  const acl = buildClientAcl(['10.77.0.1'], ['192.168.1.0/24', '2001:db8::5'], interfaces);
  assert.equal(acl.allows('192.168.1.7'), true);
  assert.equal(acl.allows('2001:db8::5'), true);
  assert.equal(acl.allows('127.0.0.1'), false, 'loopback only if listed');
  assert.equal(acl.allows('10.77.0.5'), false);
  for (const bad of ['10.0.0.0/33', 'lan', '::/129', '10.0.0.0/', '10.0.0.1-10.0.0.9', ' 10.0.0.0/8', '010.0.0.0/8']) {
    assert.throws(() => parseConfig({ front: { listen: ['10.77.0.1:53'], allow: [bad] } }), /front\.allow\[0\]: expected an address or CIDR/, bad);
  }
});

test('front.allow: host bits and an IPv6 zone are ignored, as the list parser and BlockList read them', () => {
  const acl = buildClientAcl(['10.77.0.1'], ['10.77.0.7/24', 'fe80::1%br-lan/64'], interfaces);
  assert.equal(acl.allows('10.77.0.200'), true);
  assert.equal(acl.allows('10.77.1.1'), false);
  assert.equal(acl.allows('fe80::9%br-lan'), true);
  assert.equal(acl.allows('fe81::9'), false);
  assert.deepEqual(acl.prefixes, ['10.77.0.7/24', 'fe80::1%br-lan/64']);
  assert.doesNotThrow(() => parseConfig({ front: { listen: ['10.77.0.1:53'], allow: ['fe80::1%br-lan/64'] } }));
});
