import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectHost, formatHostPort, parseHostPort, validatedHostPort } from '../../../src/lib/net/host-port.js';

test('parseHostPort: literal IPs only, IPv6 bracketed, port 0-65535', () => {
  const table: [string, { host: string; port: number } | undefined][] = [
    ['127.0.0.1:5335', { host: '127.0.0.1', port: 5335 }],
    ['[::1]:53', { host: '::1', port: 53 }],
    ['[fe80::1%br-lan]:53', { host: 'fe80::1%br-lan', port: 53 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['::1:53', undefined], // unbracketed IPv6: where would the port start?
    ['localhost:53', undefined],
    ['127.0.0.1', undefined],
    ['127.0.0.1:65536', undefined],
    ['127.0.0.1:123456', undefined],
    ['[127.0.0.1]:53', { host: '127.0.0.1', port: 53 }],
    ['[::1]53', undefined],
  ];
  for (const [text, want] of table) assert.deepEqual(parseHostPort(text), want, text);
  assert.throws(() => validatedHostPort('nope'), /unvalidated address nope/);
});

test('formatHostPort round-trips; a wildcard bind is reached over loopback', () => {
  for (const text of ['10.0.0.1:53', '[fd01::1]:5335']) {
    const hp = validatedHostPort(text);
    assert.equal(formatHostPort(hp.host, hp.port), text);
  }
  assert.deepEqual(['0.0.0.0', '::', '10.0.0.1', 'fd01::1'].map(connectHost), ['127.0.0.1', '::1', '10.0.0.1', 'fd01::1']);
});
