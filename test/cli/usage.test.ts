/**
 * The README's "Command line" block is the `Usage:` part of `--help`, word for word, and
 * `COMMAND --help` prints the same text (there is no per-command help to document separately).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fencedBlocks } from '../helpers/markdown.js';
import { repoRoot } from '../helpers/repo-root.js';

const root = repoRoot();
const main = join(root, 'dist', 'src', 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 20_000 });

/** The lines between `Usage:` and the first blank line, without their two-space indent. */
function usageSection(help: string): string {
  const start = help.indexOf('\nUsage:\n');
  assert.ok(start >= 0, `--help has a Usage: section:\n${help}`);
  const body = help.slice(start + '\nUsage:\n'.length);
  return body
    .slice(0, body.indexOf('\n\n') + 1)
    .split('\n')
    .map((l) => l.replace(/^ {2}/, ''))
    .join('\n');
}

test('README "Command line" is the Usage: section of --help', () => {
  const help = cli('--help');
  assert.equal(help.status, 0);
  const readme = readmeUsage();
  assert.equal(readme, usageSection(help.stdout));
});

test('every command in the usage prints the same help with --help, exit 0', () => {
  const help = cli('--help').stdout;
  const commands = [...new Set([...usageSection(help).matchAll(/^unbound-sidecar ([a-z][a-z-]*)/gm)].map((m) => m[1] ?? ''))];
  assert.deepEqual(commands, ['run', 'check-config', 'resolve', 'render', 'sync', 'domains', 'lookup', 'status']);
  for (const c of commands) {
    const r = cli(c, '--help');
    assert.equal(r.status, 0, c);
    assert.equal(r.stdout, help, c);
  }
});

test("lookup --json prints the admin API's answer as JSON (the flag was parsed and then dropped)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'us-usage-'));
  const socket = join(dir, 'admin.sock');
  const answer = { kind: 'name', name: 'example.org', matches: [{ list: 'vpn', source: 'registry', entry: 'example.org', learns: true }], learned: [] };
  const server = createServer((req, res) => {
    assert.equal(req.url, '/v1/lookup?q=example.org');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ admin: { socket } }));
  const run = (...extra: string[]) => promisify(execFile)(process.execPath, [main, 'lookup', 'example.org', '--config', config, ...extra], { encoding: 'utf8', timeout: 20_000 });
  assert.deepEqual(JSON.parse((await run('--json')).stdout), answer);
  assert.equal((await run()).stdout, 'example.org: list vpn via registry entry example.org\n');
});

function readmeUsage(): string {
  const blocks = fencedBlocks(root, 'README.md');
  const heading = blocks.filter((b) => b.lang === 'text' && b.text.startsWith('unbound-sidecar run '));
  assert.equal(heading.length, 1, 'README has one usage block');
  return heading[0]?.text ?? '';
}
