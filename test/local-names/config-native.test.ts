import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';

test('mdns.interfaces and collectQuietMs: defaults, valid names, errors with the JSON path', () => {
  const d = parseConfig({});
  assert.equal(d.mdns.interfaces, undefined, 'undefined = discover');
  assert.equal(d.mdns.collectQuietMs, 250);
  assert.deepEqual(parseConfig({ mdns: { interfaces: ['br-lan', 'wlan0.100', 'eth0:1'] } }).mdns.interfaces, ['br-lan', 'wlan0.100', 'eth0:1']);
  assert.deepEqual(parseConfig({ mdns: { interfaces: [] } }).mdns.interfaces, []);
  for (const bad of ['', 'has space', 'a/b', 'sixteen-chars-xx']) {
    assert.throws(() => parseConfig({ mdns: { interfaces: [bad] } }, 't.json'), /mdns\.interfaces\[0\]: expected an interface name/, bad);
  }
  assert.throws(() => parseConfig({ mdns: { collectQuietMs: 0 } }, 't.json'), /mdns\.collectQuietMs/);
});
