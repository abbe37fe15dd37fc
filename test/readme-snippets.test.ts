/**
 * Every fenced block in every README.md carries a tag, and every tag but `text` names the tool that
 * checks it (CoreDNS tests its README examples the same way):
 *   json      a whole config through parseConfig, or a `lists[].nft` block inside a list
 *   ts        type-checked against the sources: written to dist/readme-snippets/<README's folder>/,
 *             its relative imports resolve as if it sat beside the README (`rootDirs`), compiled with
 *             the repository's tsconfig options by ts.createProgram
 *   sh, bash  bash -n; console: its `$ ` lines, bash -n
 *   nix       nix-instantiate --parse
 *   ini       a drop-in over systemd/unbound-sidecar.service: `systemd-analyze security --offline`
 *             reads it without complaint, with the exposure the paragraph before it states
 *   unbound   unbound-checkconf
 *   nft       nft -c (check only) in a network namespace of its own; set lines get a table around them
 *   text      diagrams and output: nothing to check
 * A tool that is missing skips its test with the reason (fails it with CI=true, as the Nix tests do).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { parseConfig } from '../src/config/index.js';
import { fencedBlocks, readmes, where, type FencedBlock } from './helpers/markdown.js';
import { findBinary } from './lab/prereqs.js';
import { need, nixInstantiate, nixStateDir, root, useNixState } from './nix/nix-helpers.js';

useNixState();

const TAGS = ['json', 'ts', 'typescript', 'sh', 'bash', 'console', 'nix', 'ini', 'unbound', 'nft', 'text'] as const;
const blocks = readmes(root).flatMap((f) => fencedBlocks(root, f));
const tagged = (...langs: string[]): FencedBlock[] => blocks.filter((b) => langs.includes(b.lang));

/** A scratch file in the test's private directory. */
function scratch(name: string, text: string): string {
  const path = join(nixStateDir(), name);
  writeFileSync(path, text);
  return path;
}

function run(bin: string, args: readonly string[], input?: string): { status: number | null; out: string; stdout: string; stderr: string } {
  const r = spawnSync(findBinary(bin) ?? bin, args, { encoding: 'utf8', timeout: 30_000, ...(input !== undefined ? { input } : {}) });
  return { status: r.status, out: `${r.stderr ?? ''}${r.stdout ?? ''}${r.error ? String(r.error) : ''}`, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('README snippets', () => {
  it('every block is tagged with a language this test checks (or `text`)', () => {
    assert.ok(blocks.length >= 30, `found the blocks (${blocks.length})`);
    const bad = blocks.filter((b) => !(TAGS as readonly string[]).includes(b.lang)).map((b) => `${where(b)}: \`\`\`${b.lang}`);
    assert.deepEqual(bad, [], `tag each with one of ${TAGS.join(', ')} (\`text\` for what is not code)`);
  });

  it('json: a config the daemon accepts, or a lists[].nft block', () => {
    const json = tagged('json');
    assert.ok(json.length >= 10);
    for (const b of json) {
      const value = JSON.parse(b.text) as unknown;
      if (typeof value === 'object' && value !== null && 'table' in value) {
        const list = { name: 'readme', refresh: '1h', sources: [{ url: 'https://example.org/list.lst', format: 'lines', contains: 'ips' }], nft: value };
        assert.doesNotThrow(() => parseConfig({ lists: [list] }, where(b)), where(b));
      } else {
        assert.doesNotThrow(() => parseConfig(value, where(b)), where(b));
      }
    }
  });

  it("ts: type-checks against the sources with the repository's compiler options", () => {
    const ts_ = tagged('ts', 'typescript');
    assert.ok(ts_.length >= 3);
    const out = join(root, 'dist', 'readme-snippets');
    rmSync(out, { recursive: true, force: true });
    const files = ts_.map((b) => {
      const path = join(out, dirname(b.file), `README-L${b.line}.ts`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, b.text);
      return path;
    });
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
    assert.equal(config.error, undefined);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const program = ts.createProgram(files, { ...options, noEmit: true, rootDirs: [root, out] });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    assert.equal(diagnostics.length, 0, ts.formatDiagnostics(diagnostics, host));
  });

  it('sh, bash, console: bash -n accepts them', () => {
    const shell = tagged('sh', 'bash', 'console');
    assert.ok(shell.length >= 5);
    for (const b of shell) {
      const script =
        b.lang === 'console'
          ? b.text
              .split('\n')
              .filter((l) => l.startsWith('$ '))
              .map((l) => l.slice(2))
              .join('\n')
          : b.text;
      assert.ok(script.trim() !== '', `${where(b)}: a console block shows its commands after "$ "`);
      const r = run('bash', ['-n'], script);
      assert.equal(r.status, 0, `${where(b)}: ${r.out}`);
    }
  });

  it('nix: nix-instantiate --parse accepts them', { skip: need({ 'nix-instantiate': 'nix-bin' }) }, () => {
    const nix = tagged('nix');
    assert.ok(nix.length >= 4);
    for (const b of nix) {
      const r = nixInstantiate(['--parse', scratch(`readme-L${b.line}.nix`, b.text)]);
      assert.equal(r.status, 0, `${where(b)}: ${r.stderr}`);
    }
  });

  it('ini: each is a drop-in systemd reads over the shipped unit, with the exposure stated before it', { skip: need({ 'systemd-analyze': 'systemd' }) }, () => {
    const analyze = (dropIn?: string): { exposure: string | undefined; stderr: string } => {
      const sysroot = mkdtempSync(join(nixStateDir(), 'root-'));
      const unitDir = join(sysroot, 'etc', 'systemd', 'system');
      mkdirSync(join(unitDir, 'unbound-sidecar.service.d'), { recursive: true });
      copyFileSync(join(root, 'systemd', 'unbound-sidecar.service'), join(unitDir, 'unbound-sidecar.service'));
      if (dropIn !== undefined) writeFileSync(join(unitDir, 'unbound-sidecar.service.d', 'readme.conf'), dropIn);
      const r = run('systemd-analyze', ['security', '--offline=true', `--root=${sysroot}`, '--threshold=100', 'unbound-sidecar.service']);
      assert.equal(r.status, 0, r.out);
      return { exposure: /Overall exposure level for unbound-sidecar\.service: ([0-9.]+)/.exec(r.stdout)?.[1], stderr: r.stderr };
    };
    const ini = tagged('ini');
    assert.ok(ini.length >= 3);
    for (const b of ini) {
      assert.match(b.text, /^\[(Unit|Service)\]\n/, `${where(b)}: a drop-in starts with its section`);
      const { exposure, stderr } = analyze(b.text);
      assert.equal(stderr, '', `${where(b)}: systemd complains`);
      const stated = /\(exposure ([0-9.]+)\)/.exec(b.lead)?.[1];
      if (stated !== undefined) assert.equal(exposure, stated, `${where(b)}: the exposure the README states`);
    }
    const shipped = blocks.find((b) => b.lang === 'text' && b.text.startsWith('→ Overall exposure level for unbound-sidecar.service:'));
    assert.ok(shipped, "README shows the shipped unit's exposure");
    assert.equal(/: ([0-9.]+) /.exec(shipped.text)?.[1], analyze().exposure, `${where(shipped)}: the shipped unit's exposure`);
  });

  it('unbound: unbound-checkconf accepts them', { skip: need({ 'unbound-checkconf': 'unbound' }) }, () => {
    const unbound = tagged('unbound');
    assert.ok(unbound.length >= 3);
    // A sandbox clause first (the snippet's own `server:` adds to it), as readme-front.test.ts does.
    const sandbox = `server:\n  username: ""\n  chroot: ""\n  pidfile: ""\n  directory: ${JSON.stringify(nixStateDir())}\n`;
    for (const b of unbound) {
      const r = run('unbound-checkconf', [scratch(`readme-L${b.line}.conf`, sandbox + b.text)]);
      assert.equal(r.status, 0, `${where(b)}: ${r.out}`);
    }
  });

  it('nft: nft -c accepts them', { skip: need({ nft: 'nftables', unshare: 'util-linux' }, true) }, () => {
    const nft = tagged('nft');
    assert.ok(nft.length >= 1);
    for (const b of nft) {
      const text = /^\s*table\s/.test(b.text) ? b.text : `table inet readme {\n${b.text}}\n`;
      const r = run('unshare', ['--net', findBinary('nft') ?? 'nft', '-c', '-f', scratch(`readme-L${b.line}.nft`, text)]);
      assert.equal(r.status, 0, `${where(b)}: ${r.out}`);
    }
  });
});
