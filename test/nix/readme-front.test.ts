/**
 * The README's "DNS front in front of Unbound" section, every snippet parsed by the tool that
 * reads it on a router:
 *   - the Unbound snippet: unbound-checkconf, and the same directives the Nix module writes
 *     (nix/lib/unbound-settings.nix with `front`) for the JSON snippet's upstream port and prefixes;
 *   - the JSON snippet: the daemon's own schema (parseConfig), consistent with the Unbound snippet;
 *   - the systemd drop-in: applied over systemd/unbound-sidecar.service in a scratch root, it
 *     grants CAP_NET_BIND_SERVICE and the exposure `systemd-analyze security` reports is the one
 *     the README states (≤ 2.0);
 *   - the NixOS snippet: nix-instantiate --parse, and it is test/nix/samples/nixos-front.nix (which
 *     nix-lib.test.ts evaluates inside a real NixOS when NIXPKGS is set).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { parseHostPort } from '../../src/lib/net/host-port.js';
import { findBinary } from '../lab/prereqs.js';
import { NIX, need, nixEval, nixInstantiate, nixStateDir, nixString, root, samples, useNixState } from './nix-helpers.js';

useNixState();

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const start = readme.indexOf('\n## Setting up the DNS front\n');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? '', text: m[2] ?? '' }));
const unboundSnippet = blocks.find((b) => b.lang === 'unbound' && b.text.startsWith('server:\n'))?.text ?? '';
const dropIn = blocks.find((b) => b.lang === 'ini' && b.text.startsWith('[Unit]\n'))?.text ?? '';
const jsonSnippet = blocks.find((b) => b.lang === 'json')?.text ?? '';
const nixSnippet = blocks.find((b) => b.lang === 'nix')?.text ?? '';

/** Directive lines, comments and blank lines dropped, sorted. */
const directives = (conf: string): string[] =>
  conf
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '' && l !== 'server:')
    .sort();

describe('README: the DNS front section', () => {
  it('has the four snippets', () => {
    assert.ok(start > 0, 'the section exists');
    assert.deepEqual(
      [unboundSnippet, dropIn, jsonSnippet, nixSnippet].map((b) => b.length > 0),
      [true, true, true, true],
    );
    assert.equal(blocks.length, 4, 'every snippet in the section is one of them, so every one is checked');
  });

  it("the sidecar config: the daemon's schema accepts it, and it points at the Unbound snippet's proxy port and prefixes", () => {
    const c = parseConfig(JSON.parse(jsonSnippet) as unknown, 'README.md');
    assert.ok(c.front, 'has a front block');
    const proxyPort = /proxy-protocol-port: (\d+)/.exec(unboundSnippet)?.[1];
    assert.equal(c.front.upstream, `127.0.0.1:${proxyPort}`);
    assert.ok(unboundSnippet.includes(`interface: 127.0.0.1@${proxyPort}`));
    const acl = directives(unboundSnippet)
      .filter((d) => d.startsWith('access-control:'))
      .map((d) => d.split(/\s+/)[1]);
    assert.deepEqual(c.front.allow?.slice().sort(), acl.filter((p) => p !== '127.0.0.0/8' && p !== '::1/128').sort());
    const unboundOn = directives(unboundSnippet)
      .filter((d) => d.startsWith('interface:'))
      .map((d) => d.split(/\s+/)[1]);
    for (const l of c.front.listen) assert.ok(!unboundOn.includes(parseHostPort(l)?.host ?? l), `Unbound is not on ${l}`);
  });

  it('the Unbound snippet: unbound-checkconf accepts it, and it says what the Nix module writes', { skip: need({ ...NIX, 'unbound-checkconf': 'unbound' }) }, () => {
    // A sandbox clause first (the snippet's own `server:` adds to it), as nix-render.test.ts does.
    const sandbox = `server:\n  username: ""\n  chroot: ""\n  pidfile: ""\n  directory: ${JSON.stringify(nixStateDir())}\n`;
    const path = join(nixStateDir(), 'readme-front.conf');
    writeFileSync(path, sandbox + unboundSnippet);
    const r = spawnSync(findBinary('unbound-checkconf') ?? 'unbound-checkconf', [path], { encoding: 'utf8' });
    assert.equal(r.status, 0, `unbound-checkconf:\n${r.stderr}${r.stdout}`);

    const front = parseConfig(JSON.parse(jsonSnippet) as unknown).front;
    const port = parseHostPort(front?.upstream ?? '')?.port;
    const settings = `(import ./nix/lib/unbound-settings.nix { front = { port = ${port}; allow = builtins.fromJSON ${nixString(JSON.stringify(front?.allow ?? []))}; }; }).server`;
    const server = nixEval(`let s = ${settings}; in { inherit (s) interface access-control proxy-protocol-port so-rcvbuf; }`) as Record<string, string | number | string[]>;
    const fromNix = Object.entries(server)
      .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${String(x)}`))
      .sort();
    assert.deepEqual(directives(unboundSnippet), fromNix);
  });

  it("the systemd drop-in: over the shipped unit it grants CAP_NET_BIND_SERVICE, and the exposure is the README's", { skip: need({ 'systemd-analyze': 'systemd' }) }, () => {
    const stated = /exposure\s+with the drop-in is ([0-9.]+)/.exec(section.replace(/\n\s*/g, ' '))?.[1];
    assert.ok(stated !== undefined, 'the README states the exposure');
    const analyze = (withDropIn: boolean): { out: string; status: number | null; exposure: number } => {
      const sysroot = mkdtempSync(join(nixStateDir(), 'root-'));
      const unitDir = join(sysroot, 'etc', 'systemd', 'system');
      mkdirSync(join(unitDir, 'unbound-sidecar.service.d'), { recursive: true });
      copyFileSync(join(root, 'systemd', 'unbound-sidecar.service'), join(unitDir, 'unbound-sidecar.service'));
      if (withDropIn) writeFileSync(join(unitDir, 'unbound-sidecar.service.d', 'front.conf'), dropIn);
      const r = spawnSync(findBinary('systemd-analyze') ?? 'systemd-analyze', ['security', '--offline=true', `--root=${sysroot}`, '--threshold=20', 'unbound-sidecar.service'], { encoding: 'utf8' });
      assert.doesNotMatch(r.stderr, /Unknown|Failed|Invalid/i, r.stderr);
      const exposure = Number(/Overall exposure level for unbound-sidecar\.service: ([0-9.]+)/.exec(r.stdout)?.[1]);
      return { out: r.stdout, status: r.status, exposure };
    };
    const bindService = /^(.) CapabilityBoundingSet=~CAP_NET_\(BIND_SERVICE\|BROADCAST\|RAW\)/m;
    const shipped = analyze(false);
    assert.equal(bindService.exec(shipped.out)?.[1], '✓', 'the shipped unit has no CAP_NET_BIND_SERVICE');
    const front = analyze(true);
    assert.equal(bindService.exec(front.out)?.[1], '✗', 'the drop-in grants it');
    assert.match(front.out, /^✗ CapabilityBoundingSet=~CAP_NET_ADMIN/m, 'and keeps CAP_NET_ADMIN');
    assert.equal(front.status, 0, `exposure ${front.exposure} is over 2.0`);
    assert.equal(front.exposure, Number(stated));
  });

  it('the NixOS snippet parses and is test/nix/samples/nixos-front.nix', { skip: need(NIX) }, () => {
    const path = join(nixStateDir(), 'readme-front.nix');
    writeFileSync(path, nixSnippet);
    const r = nixInstantiate(['--parse', path]);
    assert.equal(r.status, 0, r.stderr);
    const code = (text: string): string =>
      text
        .split('\n')
        .filter((l) => !/^\s*#/.test(l) && !/system\.stateVersion/.test(l))
        .join('\n')
        .trim();
    assert.equal(code(nixSnippet), code(readFileSync(join(samples, 'nixos-front.nix'), 'utf8')));
  });
});
