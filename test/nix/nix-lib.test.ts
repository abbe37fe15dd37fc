/**
 * The Nix side, checked without nixpkgs (Debian's nix-bin is enough) — the pure parts:
 *   - every .nix file parses (`nix-instantiate --parse`);
 *   - nix/lib/net.nix rejects what the router module asserts against (multicast MAC, non-fd ULA,
 *     transit addressing inside the LAN);
 *   - nix/lib/sidecar.nix writes JSON the daemon's own schema accepts, and gives the dnstap socket
 *     only a group that exists; nix/lib/npm-lock.nix gives importNpmLock a URL for every package;
 *   - with NIXPKGS=/path/to/nixpkgs (not in CI: it has no nixpkgs), nix/tests/eval-upstream.nix
 *     evaluates both NixOS modules inside a whole NixOS of that nixpkgs for every sample in
 *     test/nix/samples/nixos-samples.nix.
 * What the modules render (ruleset, unbound.conf) is checked in nix-render.test.ts. Outside CI a
 * missing nix-instantiate skips with the reason; with CI=true it fails (test/lab/prereqs.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { findBinary } from '../lab/prereqs.js';
import { NIX, need, nixEval, nixFiles, nixInstantiate, nixStateDir, nixString, root, useNixState } from './nix-helpers.js';

useNixState();

describe('nix files', { skip: need(NIX) }, () => {
  it('every .nix file in the repository parses', () => {
    const files = nixFiles(root);
    assert.ok(files.some((f) => f.endsWith('flake.nix')) && files.some((f) => f.endsWith('router.nix')));
    for (const f of files) {
      const r = nixInstantiate(['--parse', f]);
      assert.equal(r.status, 0, `${relative(root, f)}: ${r.stderr}`);
    }
  });
});

describe('nix/lib/net.nix: what the router module asserts', { skip: need(NIX) }, () => {
  const net = (call: string): unknown => nixEval(`let n = import ./nix/lib/net.nix; in ${call}`);

  it("a multicast WAN MAC (the write-up's 11:22:33:44:55:66) is refused, saying why", () => {
    const msg = net('n.macProblem "wan.macAddress" "11:22:33:44:55:66"');
    assert.match(String(msg), /multicast MAC address.*0x11.*Cannot assign requested address.*10:22:33:44:55:66/);
    assert.equal(net('n.macProblem "wan.macAddress" "00:11:22:33:44:55"'), null);
    assert.equal(net('n.macProblem "m" "02:00:00:00:00:01"'), null, 'locally administered unicast is fine');
    for (const bad of ['11:22:33:44:55', 'gg:22:33:44:55:66', '0011.2233.4455', '']) {
      assert.match(String(net(`n.macProblem "m" ${nixString(bad)}`)), /is not a MAC address/, bad);
    }
  });

  it('ULA: fd only, /48..64; a zero global ID is legal but flagged', () => {
    assert.equal(net('n.ulaProblem "lan" "fd01:2345:6789::1" 64'), null);
    assert.match(String(net('n.ulaProblem "lan" "fc00::1" 64')), /not an RFC 4193 unique local address/);
    assert.match(String(net('n.ulaProblem "lan" "2001:db8::1" 64')), /must start with fd/);
    assert.match(String(net('n.ulaProblem "lan" "fd01::1" 40')), /outside 48\.\.64/);
    assert.match(String(net('n.ulaProblem "lan" "fd01::zz" 64')), /not an IPv6 address/);
    assert.deepEqual(net('[ (n.ulaGlobalIdIsZero "fd00::1") (n.ulaGlobalIdIsZero "fd01:2345:6789::1") ]'), [true, false]);
  });

  it('the WAN-namespace transit /64 lies outside the LAN: subnet ffff, else 0; a /48 LAN is refused', () => {
    assert.deepEqual(
      net(
        'map (a: n.transit6Subnet (builtins.elemAt a 0) (builtins.elemAt a 1)) [ [ "fd01:2345:6789::1" 64 ] [ "fd01:2345:6789:ffff::1" 64 ] [ "fd01:2345:6789:ff00::1" 56 ] [ "fd01:2345:6789:8000::1" 49 ] [ "fd01:2345:6789:1::1" 49 ] [ "fd01:2345:6789::1" 48 ] ]',
      ),
      ['fd01:2345:6789:ffff', 'fd01:2345:6789:0', 'fd01:2345:6789:0', 'fd01:2345:6789:0', 'fd01:2345:6789:ffff', null],
    );
    const problem = (v4: string, v6: string | null): unknown => net(`n.transitProblem "wan.namespace" { ipv4 = ${v4}; ipv6 = ${v6 ?? 'null'}; }`);
    const lan4 = '{ address = "10.77.0.1"; prefixLength = 24; }';
    // The write-up's own LAN: fd00::1/48. Before the fix the transit link took fd00:0:0:ffff::/64 inside it.
    assert.match(String(problem(lan4, '{ address = "fd00::1"; prefixLength = 48; }')), /is the whole ULA site \(\/48\), so there is no \/64 left in it.*e\.g\. fd00:0:0:0::\/64/);
    assert.equal(problem(lan4, '{ address = "fd01:2345:6789::1"; prefixLength = 64; }'), null);
    assert.equal(problem(lan4, '{ address = "fd01:2345:6789:ffff::1"; prefixLength = 64; }'), null, 'gets subnet 0 instead');
    assert.match(String(problem(lan4, null)), /lan\.ipv6\), which is unset/);
    assert.match(String(problem('{ address = "100.64.255.9"; prefixLength = 24; }', '{ address = "fd01:2345:6789::1"; prefixLength = 64; }')), /overlaps 100\.64\.255\.0\/30/);
    assert.equal(problem(lan4, '{ address = "2001:db8::1"; prefixLength = 64; }'), null, "a non-ULA is ulaProblem's to report");
  });

  it('prefix arithmetic the ruleset and Kea rely on', () => {
    assert.deepEqual(
      net('[ (n.ipv4Network "10.77.0.1" 24) (n.ipv4Network "192.168.5.130" 25) (n.ipv4ReverseZone "10.77.0.1" 24) (n.ipv4ReverseZone "10.77.3.1" 16) (n.ipv6Network "fd01:2345:6789:abcd::1" 64) ]'),
      ['10.77.0.0/24', '192.168.5.128/25', '0.77.10.in-addr.arpa.', '77.10.in-addr.arpa.', 'fd01:2345:6789:abcd:0:0:0:0/64'],
    );
  });
});

describe("nix/lib/sidecar.nix: the module's own decisions", { skip: need(NIX) }, () => {
  const sc = (call: string): unknown => nixEval(`let s = import ./nix/lib/sidecar.nix; in ${call}`);

  it("the JSON it writes has no nulls and no empty lists block, and the daemon's schema accepts it", () => {
    // What the module's option defaults give for one list and dnstap: nft.netns, set6 unset.
    const merged = `{
      dns = { listen = [ "127.0.0.1:5335" ]; zones = [ "local." ]; };
      mdns.backend = "auto"; metrics.listen = "127.0.0.1:9335"; log.level = "info"; stateDir = "/var/lib/unbound-sidecar";
      dnstap = { socket = "/run/unbound-sidecar/dnstap.sock"; };
      lists = [ { name = "vpn"; refresh = "1h"; exclude = [ ];
        sources = [ { url = "https://example.org/ips.json"; format = "json"; contains = "ips"; } ];
        nft = { family = "ip"; table = "global"; set4 = "force_vpn4"; set6 = null; netns = null; createSets = false; }; } ];
    }`;
    const out = sc(`s.configValue ${merged}`) as { lists: { nft: Record<string, unknown> }[] };
    assert.ok(!JSON.stringify(out).includes('null'), JSON.stringify(out));
    assert.deepEqual(Object.keys(out.lists[0]!.nft).sort(), ['createSets', 'family', 'set4', 'table']);
    parseConfig(out); // throws on anything src/config/schema.ts rejects ("netns": null did)
    const empty = sc(`s.configValue { lists = [ ]; dnstap = null; stateDir = "/var/lib/x"; }`);
    assert.deepEqual(empty, { stateDir: '/var/lib/x' });
    parseConfig(empty);
  });

  it("dnstap: the socket's group is Unbound's only when Unbound is here; otherwise an assertion says what to do", () => {
    const g = (args: string): { group: string | null; problem: string | null } => sc(`s.dnstapGroup ${args}`) as { group: string | null; problem: string | null };
    // configureUnbound = false and no Unbound: before the fix the unit said Group=unbound anyway.
    const orphan = g('{ dnstap = true; unboundEnabled = false; groups = [ "wheel" ]; }');
    assert.equal(orphan.group, null);
    assert.match(String(orphan.problem), /settings\.dnstap is set, but services\.unbound is not enabled.*set services\.unbound-sidecar\.dnstapGroup/);
    assert.deepEqual(g('{ dnstap = true; unboundEnabled = true; unboundGroup = "unbound"; groups = [ "unbound" ]; }'), { group: 'unbound', problem: null });
    assert.deepEqual(g('{ dnstap = true; configured = "dnstap"; unboundEnabled = false; groups = [ "dnstap" ]; }'), { group: 'dnstap', problem: null });
    assert.match(String(g('{ dnstap = true; configured = "nosuch"; unboundEnabled = true; groups = [ "unbound" ]; }').problem), /group "nosuch" is not declared in users\.groups/);
    assert.deepEqual(g('{ dnstap = false; unboundEnabled = false; groups = [ ]; }'), { group: null, problem: null });
  });
});

describe('nix/lib/sidecar.nix: the DNS front', { skip: need(NIX) }, () => {
  const sc = (call: string): unknown => nixEval(`let s = import ./nix/lib/sidecar.nix; in ${call}`);
  const args = (over: string): string =>
    `({ listen = [ "10.77.0.1:53" "[fd01:2345:6789::1]:53" ]; allow = [ "10.77.0.0/24" ]; upstreamPort = 5301; unboundInterfaces = [ "127.0.0.1" "::1" "127.0.0.1@5301" ]; } // ${over})`;

  it("the front block it writes is what the daemon's schema accepts, upstream on the proxy-protocol port", () => {
    const block = sc('s.frontBlock { listen = [ "10.77.0.1:53" "[fd01::1]:53" ]; upstreamPort = 5399; allow = [ "10.77.0.0/24" ]; insertDeadlineMs = 20; failClosed = true; }');
    assert.deepEqual(block, { listen: ['10.77.0.1:53', '[fd01::1]:53'], upstream: '127.0.0.1:5399', proxyProtocol: true, allow: ['10.77.0.0/24'], insertDeadlineMs: 20, failClosed: true });
    const c = parseConfig({ front: block });
    assert.equal(c.front?.upstream, '127.0.0.1:5399');
    assert.equal(c.front?.failClosed, true);
  });

  it('port 53 needs CAP_NET_BIND_SERVICE; 5353 does not', () => {
    assert.deepEqual(sc('map s.frontBindsPrivilegedPort [ [ "10.77.0.1:53" ] [ "[fd01::1]:5353" ] [ "10.77.0.1:5353" "[fd01::1]:53" ] [ ] ]'), [true, false, true, false]);
  });

  it('the layout the module writes has no problems', () => {
    assert.deepEqual(sc(`s.frontProblems ${args('{ }')}`), []);
  });

  it('Unbound on an address the front takes is refused, whatever the spelling; a wildcard too; interface names are not judged', () => {
    const problems = (ifaces: string): string[] => sc(`s.frontProblems ${args(`{ unboundInterfaces = ${ifaces}; }`)}`) as string[];
    assert.match(problems('[ "10.77.0.1" ]').join('\n'), /10\.77\.0\.1 port 53 is also Unbound's interface "10\.77\.0\.1"; the front takes that address/);
    assert.match(problems('[ "fd01:2345:6789:0::1@53" ]').join('\n'), /fd01:2345:6789::1 port 53 is also Unbound's interface "fd01:2345:6789:0::1@53"/);
    assert.match(problems('[ "0.0.0.0" ]').join('\n'), /also Unbound's interface "0\.0\.0\.0"/);
    assert.equal(problems('[ "0.0.0.0" ]').length, 1, 'a v4 wildcard does not clash with the v6 listen address');
    assert.deepEqual(problems('[ "10.77.0.1@5353" "lan0" "::1" ]'), [], 'another port, a name, loopback');
    // Unbound's `port:` is the port of an interface without @port.
    assert.deepEqual(sc(`s.frontProblems ${args('{ unboundInterfaces = [ "10.77.0.1" ]; unboundPort = 5353; }')}`), []);
  });

  it('no listen address, a bad one, no allow prefixes, or listening on its own upstream: each says what to set', () => {
    const all = (sc('s.frontProblems { listen = [ "localhost:53" "127.0.0.1:5301" ]; allow = [ ]; upstreamPort = 5301; }') as string[]).join('\n');
    assert.match(all, /front\.listen: "localhost:53" is not host:port with a literal IP/);
    assert.match(all, /front\.allow: name the client prefixes.*access-control gets the same prefixes/);
    assert.match(all, /front\.upstreamPort: 5301 is also a front listen port on 127\.0\.0\.1/);
    assert.match((sc('s.frontProblems { listen = [ ]; allow = [ "10.0.0.0/8" ]; upstreamPort = 5301; }') as string[]).join('\n'), /front\.listen: name the addresses/);
  });
});

describe('nix/lib/npm-lock.nix: a source for every package importNpmLock fetches', { skip: need(NIX) }, () => {
  it('the committed lockfile: every registry package gets its registry tarball URL', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string; resolved?: string; link?: boolean }> };
    const filled = nixEval('(import ./nix/lib/npm-lock.nix { lock = builtins.fromJSON (builtins.readFile ./package-lock.json); }).packages') as Record<string, { resolved?: string }>;
    for (const [path, pkg] of Object.entries(lock.packages)) {
      if (path === '' || pkg.link === true || pkg.integrity === undefined) continue;
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      const base = name.slice(name.lastIndexOf('/') + 1);
      const want = pkg.resolved ?? `https://registry.npmjs.org/${name}/-/${base}-${pkg.version}.tgz`;
      assert.equal(filled[path]?.resolved, want, path);
    }
    assert.equal(filled['']?.resolved, undefined, 'the project itself is not fetched');
  });

  it('nested, scoped and aliased packages; present URLs are kept', () => {
    const lock = `{ lockfileVersion = 3; packages = {
      "" = { name = "x"; };
      "node_modules/a/node_modules/@s/b" = { version = "1.2.3"; integrity = "sha512-x"; };
      "node_modules/alias" = { name = "real"; version = "2.0.0"; integrity = "sha512-y"; };
      "node_modules/pinned" = { version = "1.0.0"; resolved = "https://mirror.example/p.tgz"; integrity = "sha512-z"; };
      "node_modules/bundled" = { version = "1.0.0"; inBundle = true; };
    }; }`;
    const p = nixEval(`(import ./nix/lib/npm-lock.nix { lock = ${lock}; registry = "https://r.example"; }).packages`) as Record<string, { resolved?: string }>;
    assert.equal(p['node_modules/a/node_modules/@s/b']?.resolved, 'https://r.example/@s/b/-/b-1.2.3.tgz');
    assert.equal(p['node_modules/alias']?.resolved, 'https://r.example/real/-/real-2.0.0.tgz');
    assert.equal(p['node_modules/pinned']?.resolved, 'https://mirror.example/p.tgz');
    assert.equal(p['node_modules/bundled']?.resolved, undefined);
  });
});

/**
 * nix/tests/eval-upstream.nix against a nixpkgs checkout: opt-in (NIXPKGS=/path/to/nixpkgs, and
 * NIXPKGS_LIB=/path/to/lib to evaluate with another copy of nixpkgs' lib), never required in CI.
 */
const nixpkgsPath = process.env.NIXPKGS;
const upstreamSkip: string | false =
  nixpkgsPath === undefined || nixpkgsPath === '' ? 'set NIXPKGS=/path/to/nixpkgs to evaluate the modules against real NixOS modules (nix/tests/eval-upstream.nix)' : need(NIX);

interface UpstreamSample {
  failedAssertions: string[];
  toplevel: string | null;
  sidecar: { enable: boolean; config: unknown; unit: string };
}

describe('nix/tests/eval-upstream.nix: the modules inside a real NixOS', { skip: upstreamSkip }, () => {
  // Each attribute is a whole evaluation of every sample (~30 s): evaluated once per file.
  const evaluated = new Map<string, unknown>();
  const upstream = (attr: string): unknown => {
    const hit = evaluated.get(attr);
    if (hit !== undefined) return hit;
    const args = ['--eval', '--strict', '--json', 'nix/tests/eval-upstream.nix', '--arg', 'nixpkgs', nixpkgsPath ?? '', '-A', attr];
    const lib = process.env.NIXPKGS_LIB;
    if (lib !== undefined && lib !== '') args.push('--arg', 'lib', `import ${lib}`);
    const r = nixInstantiate(args, 600_000);
    assert.equal(r.status, 0, `nix-instantiate ${args.join(' ')}:\n${r.stderr}`);
    const value = JSON.parse(r.stdout) as unknown;
    evaluated.set(attr, value);
    return value;
  };

  it('every sample evaluates and meets its expectations', (t) => {
    const stubs = upstream('stubs') as string[];
    if (stubs.length > 0) t.diagnostic(`replaced here: ${stubs.join('; ')}`);
    assert.deepEqual(upstream('problems'), []);
  });

  it('every sidecar unit the samples render has a systemd-analyze security exposure of at most 2.0', { skip: need({ 'systemd-analyze': 'systemd' }) }, (t) => {
    const summary = upstream('summary') as Record<string, UpstreamSample>;
    const dir = mkdtempSync(join(nixStateDir(), 'units-'));
    const checked: string[] = [];
    for (const [name, sample] of Object.entries(summary)) {
      if (sample.failedAssertions.length > 0) continue;
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'unbound-sidecar.service'), sample.sidecar.unit);
      // --threshold is on the 0..100 scale of the overall exposure x10.
      const r = spawnSync(findBinary('systemd-analyze') ?? 'systemd-analyze', ['security', '--offline=true', '--threshold=20', 'unbound-sidecar.service'], { cwd: join(dir, name), encoding: 'utf8' });
      const overall = /Overall exposure level for unbound-sidecar\.service: ([0-9.]+)/.exec(r.stdout)?.[1];
      assert.ok(overall !== undefined, `${name}: no exposure in\n${r.stdout}${r.stderr}`);
      assert.equal(r.status, 0, `${name}: exposure ${overall} > 2.0\n${r.stdout}`);
      checked.push(`${name} ${overall}`);
    }
    assert.ok(checked.some((c) => c.startsWith('sidecar-front ')) && checked.some((c) => c.startsWith('router-readme ')), checked.join(', '));
    t.diagnostic(checked.join(', '));
  });

  it("what each sample writes for the daemon passes the daemon's schema; systems that pass their assertions instantiate", () => {
    const summary = upstream('summary') as Record<string, UpstreamSample>;
    assert.ok(Object.keys(summary).length >= 10, Object.keys(summary).join(', '));
    for (const [name, sample] of Object.entries(summary)) {
      assert.ok(sample.sidecar.enable, name);
      assert.doesNotThrow(() => parseConfig(sample.sidecar.config), name);
      if (sample.failedAssertions.length === 0) assert.match(String(sample.toplevel), /^\/nix\/store\/.*-nixos-system-.*\.drv$/, name);
    }
  });
});
