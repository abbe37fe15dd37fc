import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeStaleTemps, SerialFileWriter, writeFileAtomic } from '../../../src/lib/fs/atomic-write.js';

async function inScratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'us-atomic-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('two writes of one path at once both succeed (each has its own temp file) and leave no temp behind', () =>
  inScratch(async (dir) => {
    const path = join(dir, 'learned.json');
    for (let round = 0; round < 20; round++) {
      await Promise.all([writeFileAtomic(path, `a${round}`), writeFileAtomic(path, `b${round}`), writeFileAtomic(path, [Buffer.from(`c${round}`)])]);
      assert.match(readFileSync(path, 'utf8'), new RegExp(`^[abc]${round}$`));
    }
    assert.deepEqual(readdirSync(dir), ['learned.json']);
  }));

test('SerialFileWriter: one write at a time, newest wins, at most one waits', () =>
  inScratch(async (dir) => {
    const path = join(dir, 'store.json');
    const w = new SerialFileWriter(path);
    const rendered: string[] = [];
    const render = (v: string) => () => {
      rendered.push(v);
      return v;
    };
    const first = w.write(render('1'));
    const queued = [w.write(render('2')), w.write(render('3')), w.write(render('4'))];
    await Promise.all([first, ...queued]);
    assert.deepEqual(rendered, ['1', '4'], 'the running write, then only the newest of those that waited');
    assert.equal(readFileSync(path, 'utf8'), '4');
    await w.idle();
    await w.write(render('5'));
    assert.equal(readFileSync(path, 'utf8'), '5');
  }));

test('SerialFileWriter: a failed write rejects its callers and the next one runs', () =>
  inScratch(async (dir) => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const w = new SerialFileWriter(join(blocker, 'store.json'));
    await assert.rejects(
      w.write(() => 'x'),
      /ENOTDIR|EEXIST/,
    );
    rmSync(blocker);
    await w.write(() => 'y');
    assert.equal(readFileSync(join(blocker, 'store.json'), 'utf8'), 'y');
  }));

test('removeStaleTemps removes only temp files of that path', () =>
  inScratch(async (dir) => {
    for (const f of ['learned.json', 'learned.json.tmp-123', 'learned.json.tmp-9-4', 'learner-domains.json.tmp-1', 'other']) writeFileSync(join(dir, f), '');
    assert.equal(await removeStaleTemps(join(dir, 'learned.json')), 2);
    assert.deepEqual(readdirSync(dir).sort(), ['learned.json', 'learner-domains.json.tmp-1', 'other']);
  }));
