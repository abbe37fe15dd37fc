import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { repoRoot } from '../../helpers/repo-root.js';

const loggerUrl = pathToFileURL(join(repoRoot(), 'dist', 'src', 'lib', 'log', 'logger.js')).href;

test('process warnings become one JSON log line each; Node prints nothing of its own on stderr', () => {
  const script = `
    import { createLogger, logProcessWarnings } from ${JSON.stringify(loggerUrl)};
    logProcessWarnings(createLogger('info', false, 1));
    process.emitWarning('something odd', { type: 'ExampleWarning', code: 'US_TEST' });
    setTimeout(() => {}, 50);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing unstructured on stderr');
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stdout);
  const line = JSON.parse(lines[0] ?? '') as { level: number; warning: string; code: string; msg: string };
  assert.deepEqual([line.level, line.warning, line.code, line.msg], [40, 'ExampleWarning', 'US_TEST', 'process warning: ExampleWarning: something odd']);
});
