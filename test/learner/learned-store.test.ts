import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveConfigSchema } from '../../src/learner/config.js';
import { createLearner } from '../../src/learner/index.js';
import { LearnedStore } from '../../src/learner/learned-store.js';
import { kernelClock, stubLearnedSets } from '../helpers/learned-sets-stub.js';
import { describeWriteError, StateWrites } from '../../src/learner/state-health.js';

test('a failed save keeps the store dirty: the next save (not forced) writes it once the directory is back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-store-unit-'));
  try {
    const stateDir = join(dir, 'state');
    writeFileSync(stateDir, ''); // a file where the directory should be
    const kernel = kernelClock();
    const store = new LearnedStore(stateDir, kernel.expiry);
    store.record({ list: 'vpn', family: 'ipv4', address: '45.90.0.1', name: 'a.example' });
    kernel.set('vpn', '45.90.0.1', Date.now() + 600_000);
    await assert.rejects(store.save());
    rmSync(stateDir);
    mkdirSync(stateDir);
    await store.save();
    const doc = JSON.parse(readFileSync(join(stateDir, 'learned.json'), 'utf8')) as { entries: unknown[][] };
    assert.equal(doc.entries[0]?.[1], '45.90.0.1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('StateWrites: a file whose last write failed makes the directory unwritable until it is written again', () => {
  const s = new StateWrites('/var/lib/unbound-sidecar');
  assert.equal(s.status().writable, true);
  const err = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
  assert.equal(s.failure('learned.json', err), '/var/lib/unbound-sidecar is on a read-only file system (EROFS)');
  s.failure('learner-domains.json', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
  assert.deepEqual(
    s.status().failures.map((f) => [f.file, f.error]),
    [
      ['learned.json', '/var/lib/unbound-sidecar is on a read-only file system (EROFS)'],
      ['learner-domains.json', '/var/lib/unbound-sidecar is full (ENOSPC)'],
    ],
  );
  s.ok('learned.json');
  assert.equal(s.status().writable, false, 'one file still failing');
  s.ok('learner-domains.json');
  assert.equal(s.status().writable, true);
  assert.equal(describeWriteError(Object.assign(new Error('x'), { code: 'EACCES' }), '/d'), '/d is not writable by this user (EACCES)');
  assert.match(describeWriteError(new Error('odd'), '/d'), /^cannot write in \/d: odd$/);
});

const noSets = stubLearnedSets({ kind: 'no-set' });
const bareLearner = (dir: string, stateDir: string) =>
  createLearner({
    config: { resolve: resolveConfigSchema.parse({ enabled: false }), admin: { socket: join(dir, 'admin.sock') }, lists: [] },
    stateDir,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    learnedSets: noSets,
  });

test('the learner reports a stateDir it cannot write: state() names the file and the reason, the final save is attempted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-learner-state-'));
  try {
    const stateDir = join(dir, 'state');
    writeFileSync(stateDir, ''); // a file where the directory should be
    const learner = bareLearner(dir, stateDir);
    await learner.start();
    assert.equal(learner.state().writable, true, 'nothing written yet');
    await learner.stop();
    const s = learner.state();
    assert.equal(s.writable, false);
    assert.deepEqual(
      s.failures.map((f) => [f.file, f.error]),
      [['learned.json', `${stateDir} is not a directory (EEXIST)`]],
    ); // mkdir -p of an existing file
    assert.deepEqual(learner.status().state, s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a learner stopped before it started (the daemon failed to start) leaves learned.json as it was', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'us-learner-state-'));
  try {
    const file = join(dir, 'learned.json');
    const before = `{"version":1,"entries":[\n["vpn","45.90.0.1",${Math.ceil(Date.now() / 1000) + 600},"a.example"]\n]}\n`;
    writeFileSync(file, before);
    await bareLearner(dir, dir).stop();
    assert.equal(readFileSync(file, 'utf8'), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
