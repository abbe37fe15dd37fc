/**
 * What the Nix modules render, checked with the real tools and without nixpkgs:
 *   - nix/lib/ruleset.nix renders each sample in test/nix/samples/*.json to a ruleset that the
 *     kernel accepts (`nft -c`, then loaded twice, as a reload does) in a throwaway namespace
 *     holding the devices its netdev chains name;
 *   - nix/lib/unbound-settings.nix renders to an unbound.conf that unbound-checkconf accepts and
 *     that says what `unbound-sidecar render unbound` says.
 * Outside CI a missing tool (or root, for the namespace) skips with the reason; CI=true fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUnboundSnippet } from '../../src/cli/render-unbound.js';
import { parseConfig } from '../../src/config/index.js';
import { findBinary } from '../lab/prereqs.js';
import { ipSync } from '../lab/netns.js';
import { deleteNetnsSync } from '../lab/reaper.js';
import { NIX, need, nixEval, nixStateDir, nixString, samples, useNixState } from './nix-helpers.js';

useNixState();

interface RulesetBundle {
  text: string;
  ingress: { device: string }[];
}
interface Rendered {
  main: RulesetBundle;
  wanNamespace: RulesetBundle | null;
}

let nsCounter = 0;
/** A throwaway namespace with a veth for every device a netdev chain names; always deleted. */
function withNamespace<T>(devices: readonly string[], fn: (ns: string) => T): T {
  const ns = `us-n-${process.pid}-${++nsCounter}`;
  ipSync(['netns', 'add', ns]);
  try {
    devices.forEach((dev, i) => ipSync(['-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `peer${i}`]));
    return fn(ns);
  } finally {
    deleteNetnsSync(ns);
  }
}

function nftIn(ns: string, args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, findBinary('nft') ?? 'nft', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr ?? String(r.error ?? '') };
}

describe('nix/lib/ruleset.nix: rendered rulesets pass nft -c in a namespace', { skip: need({ ...NIX, nft: 'nftables', ip: 'iproute2' }, true) }, () => {
  const files = readdirSync(samples).filter((f) => /^router-.*\.json$/.test(f));
  it('has samples', () => assert.ok(files.length >= 3, files.join(', ')));

  for (const file of files) {
    it(file, () => {
      const rendered = nixEval(`import ./nix/lib/ruleset.nix (builtins.fromJSON (builtins.readFile ./test/nix/samples/${file}))`) as Rendered;
      const bundles = [
        ['main', rendered.main],
        ['wanNamespace', rendered.wanNamespace],
      ] as const;
      for (const [where, bundle] of bundles) {
        if (bundle === null) continue;
        const path = join(nixStateDir(), `${file}.${where}.nft`);
        writeFileSync(path, bundle.text);
        withNamespace(
          bundle.ingress.map((t) => t.device),
          (ns) => {
            const check = nftIn(ns, ['-c', '-f', path]);
            assert.equal(check.status, 0, `${file} (${where}): nft -c rejected it:\n${check.stderr}\n${bundle.text}`);
            // Loaded twice: the create/delete/re-create preamble must make a reload idempotent.
            for (const pass of [1, 2]) {
              const load = nftIn(ns, ['-f', path]);
              assert.equal(load.status, 0, `${file} (${where}): load ${pass} failed:\n${load.stderr}`);
            }
          },
        );
      }
      const mainText = rendered.main.text;
      assert.match(mainText, /fib saddr \. iif oif missing drop/);
      assert.match(mainText, /ct state vmap \{ established : accept, related : accept, invalid : drop \}/);
    });
  }

  it('the VPN sample marks by set and client, restores and saves ct mark, and NATs both egresses', () => {
    const r = nixEval('import ./nix/lib/ruleset.nix (builtins.fromJSON (builtins.readFile ./test/nix/samples/router-vpn.json))') as Rendered;
    const t = r.main.text;
    assert.match(t, /meta mark set ct mark\n\s+meta mark != 0x0 accept/);
    assert.match(t, /ip daddr @force_vpn4 meta mark set 2/);
    assert.match(t, /ip6 daddr @force_vpn6 meta mark set 2/);
    assert.match(t, /set learned4 \{\n\s+type ipv4_addr\n\s+flags timeout/);
    assert.match(t, /ip saddr 10\.77\.0\.50 meta mark set 2/);
    assert.ok(t.lastIndexOf('@force_vpn4') > t.indexOf('ip saddr 10.77.0.50'), 'lists override per-client choices');
    assert.match(t, /ct mark set meta mark/);
    assert.match(t, /ip saddr 10\.77\.0\.0\/24 oifname \{ "wan0", "wg0" \} masquerade/);
    assert.deepEqual(
      r.main.ingress.map((i) => i.device),
      ['lan0', 'wlan0', 'wan0'],
    );
    assert.equal(r.wanNamespace, null);
  });
});

/** Directive lines of an unbound.conf fragment, comments and blank lines dropped, sorted. */
function directives(conf: string): string[] {
  return conf
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '')
    .sort();
}

describe('nix/lib/unbound-settings.nix: what the module gives Unbound', { skip: need({ ...NIX, 'unbound-checkconf': 'unbound' }) }, () => {
  const sidecar = JSON.parse(readFileSync(join(samples, 'sidecar.json'), 'utf8')) as { dns: { zones: string[]; listen: string[] } };
  const render = (dnstap: string | null, front = 'null'): string => {
    const settings = `import ./nix/lib/unbound-settings.nix { zones = builtins.fromJSON ${nixString(JSON.stringify(sidecar.dns.zones))}; listen = builtins.fromJSON ${nixString(JSON.stringify(sidecar.dns.listen))}; dnstapSocket = ${dnstap === null ? 'null' : nixString(dnstap)}; front = ${front}; }`;
    // nixpkgs always adds these to `server:`; here they point at the test's own directory.
    const base = `{ username = ''""''; chroot = ''""''; pidfile = ''""''; directory = ${nixString(JSON.stringify(nixStateDir()))}; }`;
    return nixEval(`import ./test/nix/unbound-conf.nix { settings = ${settings}; base = ${base}; }`) as string;
  };

  it('unbound-checkconf accepts it, with and without the dnstap block', (t) => {
    for (const dnstap of [null, '/run/unbound-sidecar/dnstap.sock']) {
      const conf = render(dnstap);
      const path = join(nixStateDir(), `unbound-${dnstap === null ? 'plain' : 'dnstap'}.conf`);
      writeFileSync(path, conf);
      const r = spawnSync(findBinary('unbound-checkconf') ?? 'unbound-checkconf', [path], { encoding: 'utf8' });
      if (dnstap !== null && /dnstap/.test(r.stderr ?? '') && /not compiled|unknown keyword/i.test(r.stderr ?? '')) {
        t.diagnostic('this unbound is built without dnstap; the dnstap variant is not checked');
        continue;
      }
      assert.equal(r.status, 0, `unbound-checkconf:\n${r.stderr}${r.stdout}\n${conf}`);
    }
  });

  it('says the same as `unbound-sidecar render unbound` (src/cli/render-unbound.ts)', () => {
    const nix = directives(render(null)).filter((l) => !/^(username|chroot|pidfile|directory):/.test(l));
    const ts = directives(renderUnboundSnippet(parseConfig(sidecar)));
    assert.deepEqual(nix, ts);
  });

  it('with the DNS front, the same again: loopback interfaces, the proxy-protocol port, access-control', () => {
    const allow = ['10.77.0.0/24', 'fd01::/64'];
    const nix = directives(render(null, `{ port = 5301; allow = builtins.fromJSON ${nixString(JSON.stringify(allow))}; }`)).filter((l) => !/^(username|chroot|pidfile|directory):/.test(l));
    const ts = directives(renderUnboundSnippet(parseConfig({ ...sidecar, front: { listen: ['10.77.0.1:53'], upstream: '127.0.0.1:5301', allow } })));
    assert.ok(ts.includes('proxy-protocol-port: 5301') && ts.includes('interface: 127.0.0.1@5301'), ts.join('\n'));
    assert.deepEqual(nix, ts);
  });

  it("dnstap: Unbound is the Frame Streams client of the sidecar's socket", () => {
    const conf = render('/run/unbound-sidecar/dnstap.sock');
    assert.match(conf, /^dnstap:\n(\s+.*\n)*\s+dnstap-enable: yes$/m);
    assert.match(conf, /dnstap-socket-path: "\/run\/unbound-sidecar\/dnstap\.sock"/);
    assert.match(conf, /dnstap-log-client-response-messages: yes/);
  });
});
