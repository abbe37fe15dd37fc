/**
 * The error-code table in README.md is the documentation users and scripts rely on: every code of
 * SidecarErrorCode has a row, every row is a code, and every code is raised somewhere in src/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers/repo-root.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('every error code is in the README table, raised in src/, and nothing else is in the table', () => {
  const root = repoRoot();
  const errors = readFileSync(join(root, 'src', 'errors.ts'), 'utf8');
  const union = errors.slice(errors.indexOf('export type SidecarErrorCode'), errors.indexOf('export class SidecarError'));
  const codes = [...union.matchAll(/\| '([A-Z_]+)'/g)].map((m) => m[1] ?? '');
  assert.ok(codes.length >= 5, `codes read from src/errors.ts: ${codes.join(', ')}`);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Error codes'));
  const table = section.slice(0, section.indexOf('\n#'));
  const rows = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1] ?? '');
  assert.deepEqual([...rows].sort(), [...codes].sort(), 'README "Error codes" rows vs SidecarErrorCode');
  const src = sources(join(root, 'src'))
    .filter((f) => !f.endsWith('errors.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  for (const c of codes) assert.ok(src.includes(`'${c}'`), `${c} is declared but never raised`);
});
