/**
 * The Nix side of issue 6, checked without nixpkgs (Debian's nix-bin is enough):
 *   - every .nix file parses (`nix-instantiate --parse`);
 *   - nix/lib/net.nix rejects what the router module asserts against (multicast MAC, non-fd ULA);
 *   - nix/lib/ruleset.nix renders each sample in test/nix/samples/*.json to a ruleset that the
 *     kernel accepts (`nft -c`, then loaded twice, as a reload does) in a throwaway namespace
 *     holding the devices its netdev chains name;
 *   - nix/lib/unbound-settings.nix renders to an unbound.conf that unbound-checkconf accepts and
 *     that says what `unbound-sidecar render unbound` says.
 * Outside CI a missing nix-instantiate (or root, for the namespace) skips with the reason; with
 * CI=true it fails, like the lab tests (test/lab/prereqs.ts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import { findBinary, inCI } from '../lab/prereqs.js';
import { ipSync } from '../lab/netns.js';
import { deleteNetnsSync } from '../lab/reaper.js';
import { renderUnboundSnippet } from '../../src/cli/render-unbound.js';
import { parseConfig } from '../../src/config/index.js';

const root = repoRoot();
const samples = join(root, 'test', 'nix', 'samples');

/** The skip reason, or false; in CI a missing prerequisite throws (fails the suite) instead. */
function need(binaries: Readonly<Record<string, string>>, root_ = false): string | false {
  const missing = Object.entries(binaries).filter(([bin]) => findBinary(bin) === undefined).map(([b, p]) => `${b} (${p})`);
  let reason: string | undefined;
  if (missing.length > 0) reason = `missing ${missing.join(', ')}`;
  else if (root_ && process.getuid?.() !== 0) reason = 'needs root (network namespace for nft -c)';
  if (reason === undefined) return false;
  if (inCI()) throw new Error(`nix test prerequisite missing in CI: ${reason}`);
  return reason;
}
const NIX = { 'nix-instantiate': 'nix-bin' };

let stateDir = '';
before(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'us-nix-'));
});
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** Runs nix-instantiate with a private state dir, so it never touches (or needs) /nix/var. */
function nixInstantiate(args: readonly string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(findBinary('nix-instantiate') ?? 'nix-instantiate', ['--readonly-mode', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NIX_STATE_DIR: stateDir },
    timeout: 60_000,
  });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? ''), status: r.status };
}

/** `--eval --strict --json` of a Nix expression, parsed. */
function nixEval(expr: string): unknown {
  const r = nixInstantiate(['--eval', '--strict', '--json', '-E', expr]);
  assert.equal(r.status, 0, `nix-instantiate failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

const nixString = (s: string): string => JSON.stringify(s).replace(/\$\{/g, '\\${');

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (['node_modules', 'dist', '.git'].includes(e.name)) return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return nixFiles(p);
    return e.name.endsWith('.nix') ? [p] : [];
  });
}

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

  it('a multicast WAN MAC (the write-up\'s 11:22:33:44:55:66) is refused, saying why', () => {
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

  it('prefix arithmetic the ruleset and Kea rely on', () => {
    assert.deepEqual(
      net('[ (n.ipv4Network "10.77.0.1" 24) (n.ipv4Network "192.168.5.130" 25) (n.ipv4ReverseZone "10.77.0.1" 24) (n.ipv4ReverseZone "10.77.3.1" 16) (n.ipv6Network "fd01:2345:6789:abcd::1" 64) ]'),
      ['10.77.0.0/24', '192.168.5.128/25', '0.77.10.in-addr.arpa.', '77.10.in-addr.arpa.', 'fd01:2345:6789:abcd:0:0:0:0/64'],
    );
  });
});

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
      const bundles = [['main', rendered.main], ['wanNamespace', rendered.wanNamespace]] as const;
      for (const [where, bundle] of bundles) {
        if (bundle === null) continue;
        const path = join(stateDir, `${file}.${where}.nft`);
        writeFileSync(path, bundle.text);
        withNamespace(bundle.ingress.map((t) => t.device), (ns) => {
          const check = nftIn(ns, ['-c', '-f', path]);
          assert.equal(check.status, 0, `${file} (${where}): nft -c rejected it:\n${check.stderr}\n${bundle.text}`);
          // Loaded twice: the create/delete/re-create preamble must make a reload idempotent.
          for (const pass of [1, 2]) {
            const load = nftIn(ns, ['-f', path]);
            assert.equal(load.status, 0, `${file} (${where}): load ${pass} failed:\n${load.stderr}`);
          }
        });
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
    assert.deepEqual(r.main.ingress.map((i) => i.device), ['lan0', 'wlan0', 'wan0']);
    assert.equal(r.wanNamespace, null);
  });
});

/** Directive lines of an unbound.conf fragment, comments and blank lines dropped, sorted. */
function directives(conf: string): string[] {
  return conf.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '').sort();
}

describe('nix/lib/unbound-settings.nix: what the module gives Unbound', { skip: need({ ...NIX, 'unbound-checkconf': 'unbound' }) }, () => {
  const sidecar = JSON.parse(readFileSync(join(samples, 'sidecar.json'), 'utf8')) as { dns: { zones: string[]; listen: string[] } };
  const render = (dnstap: string | null): string => {
    const settings = `import ./nix/lib/unbound-settings.nix { zones = builtins.fromJSON ${nixString(JSON.stringify(sidecar.dns.zones))}; listen = builtins.fromJSON ${nixString(JSON.stringify(sidecar.dns.listen))}; dnstapSocket = ${dnstap === null ? 'null' : nixString(dnstap)}; }`;
    // nixpkgs always adds these to `server:`; here they point at the test's own directory.
    const base = `{ username = ''""''; chroot = ''""''; pidfile = ''""''; directory = ${nixString(JSON.stringify(stateDir))}; }`;
    return nixEval(`import ./test/nix/unbound-conf.nix { settings = ${settings}; base = ${base}; }`) as string;
  };

  it('unbound-checkconf accepts it, with and without the dnstap block', (t) => {
    for (const dnstap of [null, '/run/unbound-sidecar/dnstap.sock']) {
      const conf = render(dnstap);
      const path = join(stateDir, `unbound-${dnstap === null ? 'plain' : 'dnstap'}.conf`);
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

  it('dnstap: Unbound is the Frame Streams client of the sidecar\'s socket (issue 4)', () => {
    const conf = render('/run/unbound-sidecar/dnstap.sock');
    assert.match(conf, /^dnstap:\n(\s+.*\n)*\s+dnstap-enable: yes$/m);
    assert.match(conf, /dnstap-socket-path: "\/run\/unbound-sidecar\/dnstap\.sock"/);
    assert.match(conf, /dnstap-log-client-response-messages: yes/);
  });
});
