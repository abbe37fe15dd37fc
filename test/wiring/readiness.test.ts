import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SetSync } from '../../src/set-sync/index.js';
import { listenerReadiness, listsReadiness, mdnsReadiness, stateReadiness } from '../../src/wiring/readiness.js';

test('listenerReadiness: not ready until the whole start order is done, then names the addresses', () => {
  let started = false;
  const dns = listenerReadiness('dns', ['127.0.0.1:5335', '[::1]:5335'], () => started);
  assert.equal(dns.name, 'dns');
  assert.deepEqual(dns.check(), { kind: 'not-ready', detail: 'not listening yet' });
  started = true;
  assert.deepEqual(dns.check(), { kind: 'ready', detail: 'listening on 127.0.0.1:5335, [::1]:5335' });
});

test('mdnsReadiness and stateReadiness: the texts /readyz shows', () => {
  let up = false;
  const mdns = mdnsReadiness({ status: () => ({ backend: 'avahi', up }) });
  assert.deepEqual(mdns.check(), { kind: 'not-ready', detail: 'avahi down (answers are SERVFAIL until it returns)' });
  up = true;
  assert.deepEqual(mdns.check(), { kind: 'ready', detail: 'avahi up' });

  let failures: { file: string; error: string; at: number }[] = [{ file: 'learned.json', error: '/s is on a read-only file system (EROFS)', at: 1 }];
  const state = stateReadiness({ state: () => ({ dir: '/s', writable: failures.length === 0, failures }) });
  assert.equal(state.name, 'state');
  assert.deepEqual(state.check(), { kind: 'not-ready', detail: 'learned.json: /s is on a read-only file system (EROFS) (learned addresses and runtime additions are not saved)' });
  failures = [];
  assert.deepEqual(state.check(), { kind: 'ready', detail: '/s writable' });
});

test('listsReadiness: restoring, then each set whose apply failed, then ready', () => {
  let started = false;
  let status: ReturnType<SetSync['status']> = [];
  const setSync: SetSync = { apply: async () => [], start: async () => undefined, stop: async () => undefined, status: () => status };
  const lists = listsReadiness({ started: () => started, setSync }, 2);
  assert.equal(lists.name, 'lists');
  assert.deepEqual(lists.check(), { kind: 'not-ready', detail: 'restoring snapshots into the sets' });
  started = true;
  status = [
    { set: 'inet global v4', list: 'a', elements: 1 },
    { set: 'inet global v6', list: 'a', elements: 0, lastError: 'set does not exist' },
  ];
  assert.deepEqual(lists.check(), { kind: 'not-ready', detail: 'set inet global v6 not applied: set does not exist' });
  status = [{ set: 'inet global v4', list: 'a', elements: 1 }];
  assert.deepEqual(lists.check(), { kind: 'ready', detail: '2 list(s) restored and syncing' });
});
