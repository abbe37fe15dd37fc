import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusSnapshotSchema, type StatusSnapshot } from '../../src/http/status.js';
import { statusSnapshot, type SnapshotStatuses } from '../../src/wiring/status-snapshot.js';
import { FAKE_FRONT } from '../http/status-fixtures.js';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;
const ctx = {
  version: '1.2.3',
  startedAt: NOW - 2 * HOUR,
  lists: [
    { name: 'vpn', refresh: HOUR, learn: { set4: 'learned4', set6: 'learned6', resolve: true } },
    { name: 'static', refresh: 6 * HOUR },
  ],
  errors: [{ at: NOW - 1000, level: 'warn', source: 'blocklist', message: 'blocklist: slow mirror' }],
  lookup: true,
  now: NOW,
} as const;

const everything: SnapshotStatuses = {
  'local-names': { backend: 'native', up: true },
  lists: {
    refresh: [
      { list: 'vpn', refreshMs: HOUR, lastSyncAt: NOW - 60_000, outcome: 'updated', lastSuccessAt: NOW - 60_000 },
      { list: 'static', refreshMs: 6 * HOUR, lastSyncAt: NOW - 120_000, outcome: 'failed', lastError: 'HTTP 502' },
    ],
    sets: [
      { set: 'inet vpn v4', list: 'vpn', elements: 10, lastApplyAt: NOW - 50_000 },
      { set: 'inet vpn v6', list: 'vpn', elements: 2 },
      { set: 'inet vpn s4', list: 'static', elements: 0, lastError: 'table inet vpn does not exist' },
    ],
  },
  learner: {
    dnstap: { listening: true, connections: 2, frames: 99, errors: 0 },
    learned: [
      { list: 'vpn', family: 'ipv4', count: 5 },
      { list: 'vpn', family: 'ipv6', count: 3 },
    ],
    resolve: undefined,
    state: { dir: '/var/lib/unbound-sidecar', writable: false, failures: [{ file: 'learned.json', error: 'read-only (EROFS)', at: NOW - 10 }] },
  },
  'dns-front': FAKE_FRONT,
};

test('statusSnapshot: each list joined with its sets (without the list key) and its learned count over both families', () => {
  const expected: StatusSnapshot = {
    version: '1.2.3',
    generatedAt: NOW,
    startedAt: NOW - 2 * HOUR,
    health: {
      mdns: { backend: 'native', up: true },
      dnstap: { connected: true, connections: 2, frames: 99 },
      state: { dir: '/var/lib/unbound-sidecar', writable: false, failures: [{ file: 'learned.json', error: 'read-only (EROFS)', at: NOW - 10 }] },
      front: {
        ...FAKE_FRONT,
        listen: [...FAKE_FRONT.listen],
        allow: [...FAKE_FRONT.allow],
        notBound: [],
        insertion: { ...FAKE_FRONT.insertion },
        udp: { ...FAKE_FRONT.udp, kernelDrops: { ...FAKE_FRONT.udp.kernelDrops } },
      },
    },
    lists: [
      {
        name: 'vpn',
        refreshSeconds: 3600,
        lastSyncAt: NOW - 60_000,
        outcome: 'updated',
        lastSuccessAt: NOW - 60_000,
        ageSeconds: 60,
        sets: [
          { set: 'inet vpn v4', elements: 10, lastApplyAt: NOW - 50_000 },
          { set: 'inet vpn v6', elements: 2 },
        ],
        learned: 8,
      },
      {
        name: 'static',
        refreshSeconds: 21_600,
        lastSyncAt: NOW - 120_000,
        outcome: 'failed',
        ageSeconds: 7200,
        lastError: 'HTTP 502',
        sets: [{ set: 'inet vpn s4', elements: 0, lastError: 'table inet vpn does not exist' }],
      },
    ],
    errors: [{ at: NOW - 1000, level: 'warn', source: 'blocklist', message: 'blocklist: slow mirror' }],
    lookup: true,
  };
  const s = statusSnapshot(everything, ctx);
  assert.deepEqual(s, expected);
  assert.deepEqual(statusSnapshotSchema.parse(s), s, 'the schema the CLI narrows with accepts it as is');
});

test('statusSnapshot: a component the config leaves out leaves its section out; no dnstap block without dnstap', () => {
  const bare = statusSnapshot({ 'local-names': { backend: 'avahi', up: false }, lists: undefined, learner: undefined, 'dns-front': undefined }, { ...ctx, lists: [], lookup: false });
  assert.deepEqual(bare.health, { mdns: { backend: 'avahi', up: false } });
  assert.deepEqual(bare.lists, []);
  assert.equal(bare.lookup, false);

  const noDnstap = statusSnapshot({ ...everything, learner: everything.learner && { ...everything.learner, dnstap: undefined } }, ctx);
  assert.equal(noDnstap.health.dnstap, undefined);
  assert.equal('dnstap' in noDnstap.health, false);
  assert.equal(noDnstap.health.state?.writable, false);

  const listsNotRefreshed = statusSnapshot({ ...everything, lists: { refresh: [], sets: [] }, learner: undefined }, ctx);
  assert.deepEqual(
    listsNotRefreshed.lists.map((l) => [l.name, l.outcome, l.learned, l.ageSeconds]),
    [
      ['vpn', undefined, 0, 7200],
      ['static', undefined, undefined, 7200],
    ],
    'every configured list is shown before its first refresh; a learning list counts 0 learned',
  );
});
