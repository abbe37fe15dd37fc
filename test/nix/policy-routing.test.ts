/**
 * nix/lib/policy-routing.nix — the router's fwmark rules and the VPN leak guard:
 *   - what it gives systemd-networkd (the rules the router always had, plus the guard's routes);
 *   - in a throwaway network namespace, with the real iproute2 and kernel: its `ip` commands on a
 *     router whose main table leaves by the WAN and whose VPN table holds WireGuard's default
 *     route (as networking.wireguard puts it there: `ip route replace 0.0.0.0/0 dev wg0 table 2`).
 *     A packet marked for the VPN goes into the tunnel while it is up, gets "No route to host"
 *     once the tunnel is gone — and, with allowWanFallback, leaves by the WAN: the leak the guard
 *     exists for, shown on the same kernel.
 * `ip route get … iif <lan> mark 2` asks the kernel's forwarding lookup for a LAN client's packet
 * (ip-route(8), "ip route get"), i.e. the fib rules the router applies to forwarded traffic.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ipSync } from '../lab/netns.js';
import { deleteNetnsSync } from '../lab/reaper.js';
import { NIX, need, nixEval, useNixState } from './nix-helpers.js';

useNixState();

interface Policy {
  networkd: { routingPolicyRules: Record<string, unknown>[]; routes: Record<string, unknown>[] };
  ipCommands: string[][];
}
const render = (allowWanFallback: boolean, lan6: string | null = '"fd01:2345:6789::/64"'): Policy =>
  nixEval(`import ./nix/lib/policy-routing.nix { lan4 = "10.77.0.0/24"; lan6 = ${lan6 ?? 'null'}; marks = { wan = 1; vpn = 2; }; allowWanFallback = ${String(allowWanFallback)}; }`) as Policy;

describe('nix/lib/policy-routing.nix: what networkd gets', { skip: need(NIX) }, () => {
  it('the LAN via main first, then a table per mark; the VPN table ends in unreachable default (v4 and v6)', () => {
    const p = render(false);
    assert.deepEqual(p.networkd.routingPolicyRules, [
      { To: '10.77.0.0/24', Table: 'main', Priority: 100 },
      { To: 'fd01:2345:6789::/64', Table: 'main', Priority: 100 },
      { FirewallMark: 1, Table: 1, Priority: 200, Family: 'both' },
      { FirewallMark: 2, Table: 2, Priority: 200, Family: 'both' },
    ]);
    assert.deepEqual(p.networkd.routes, [
      { Type: 'unreachable', Destination: '0.0.0.0/0', Table: 2, Metric: 4294967295 },
      { Type: 'unreachable', Destination: '::/0', Table: 2, Metric: 4294967295 },
    ]);
  });

  it('allowWanFallback: the same rules, no guard; without a LAN ULA no IPv6 LAN rule', () => {
    const p = render(true, null);
    assert.deepEqual(p.networkd.routes, []);
    assert.equal(p.networkd.routingPolicyRules.length, 3);
    assert.ok(!p.ipCommands.some((c) => c.includes('unreachable')));
  });
});

let counter = 0;
/** A namespace shaped like the router: lan0, wan0 (main's default route) and wg0 (VPN table's). */
function withRouter<T>(policy: Policy, fn: (ns: string) => T): T {
  const ns = `us-p-${process.pid}-${++counter}`;
  ipSync(['netns', 'add', ns]);
  try {
    const ip = (...args: string[]): void => ipSync(['-n', ns, ...args]);
    ip('link', 'set', 'lo', 'up');
    for (const dev of ['lan0', 'wan0', 'wg0']) {
      ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
      ip('link', 'set', dev, 'up');
      ip('link', 'set', `${dev}p`, 'up');
    }
    const sysctl = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'], { encoding: 'utf8' });
    assert.equal(sysctl.status, 0, sysctl.stderr);
    ip('addr', 'add', '10.77.0.1/24', 'dev', 'lan0');
    ip('-6', 'addr', 'add', 'fd01:2345:6789::1/64', 'dev', 'lan0', 'nodad');
    ip('addr', 'add', '192.0.2.1/24', 'dev', 'wan0');
    ip('-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'wan0', 'nodad');
    ip('route', 'add', 'default', 'via', '192.0.2.254', 'dev', 'wan0');
    ip('-6', 'route', 'add', 'default', 'via', '2001:db8::fffe', 'dev', 'wan0');
    for (const cmd of policy.ipCommands) ip(...cmd);
    tunnelUp(ns);
    return fn(ns);
  } finally {
    deleteNetnsSync(ns);
  }
}

/** What networking.wireguard does for allowedIPs 0.0.0.0/0 and ::/0 with table = 2. */
function tunnelUp(ns: string): void {
  if (spawnSync('ip', ['-n', ns, 'link', 'show', 'wg0']).status !== 0) {
    ipSync(['-n', ns, 'link', 'add', 'wg0', 'type', 'veth', 'peer', 'name', 'wg0p']);
    ipSync(['-n', ns, 'link', 'set', 'wg0', 'up']);
  }
  ipSync(['-n', ns, 'route', 'replace', '0.0.0.0/0', 'dev', 'wg0', 'table', '2']);
  ipSync(['-n', ns, '-6', 'route', 'replace', '::/0', 'dev', 'wg0', 'table', '2']);
}
/** The tunnel goes away (wireguard-wg0 stopped, the interface deleted): its routes go with it. */
const tunnelDown = (ns: string): void => ipSync(['-n', ns, 'link', 'del', 'wg0']);

/** The kernel's route for a LAN client's forwarded packet: the output device, or the error. */
function routeOf(ns: string, family: '-4' | '-6', to: string, mark: number): string {
  const from = family === '-4' ? '10.77.0.50' : 'fd01:2345:6789::50';
  const r = spawnSync('ip', ['-n', ns, family, 'route', 'get', to, 'from', from, 'iif', 'lan0', 'mark', String(mark)], { encoding: 'utf8' });
  if (r.status !== 0) return `error: ${(r.stderr ?? '').trim()}`;
  return /\bdev (\S+)/.exec(r.stdout)?.[1] ?? `unparsed: ${r.stdout}`;
}

describe('the VPN leak guard in a namespace (real iproute2)', { skip: need({ ...NIX, ip: 'iproute2' }, true) }, () => {
  it('marked traffic: the tunnel while it is up, unreachable while it is down, the tunnel again when it returns', () => {
    withRouter(render(false), (ns) => {
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 2), 'wg0');
      assert.equal(routeOf(ns, '-6', '2001:db8:5::7', 2), 'wg0');
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 0), 'wan0', 'unmarked traffic uses main');
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 1), 'wan0', 'mark 1: wan_table is empty here, main decides');

      tunnelDown(ns);
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 2), 'error: RTNETLINK answers: No route to host');
      assert.equal(routeOf(ns, '-6', '2001:db8:5::7', 2), 'error: RTNETLINK answers: No route to host');
      assert.equal(routeOf(ns, '-4', '10.77.0.9', 2), 'lan0', 'replies to the LAN still reach it');
      assert.equal(routeOf(ns, '-6', 'fd01:2345:6789::9', 2), 'lan0');
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 0), 'wan0', 'unmarked traffic is not affected');

      tunnelUp(ns);
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 2), 'wg0', "WireGuard's route wins over the guard's (largest) metric");
      assert.equal(routeOf(ns, '-6', '2001:db8:5::7', 2), 'wg0');
    });
  });

  it('allowWanFallback: with the tunnel down marked traffic leaves by the WAN (what the guard prevents)', () => {
    withRouter(render(true), (ns) => {
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 2), 'wg0');
      tunnelDown(ns);
      assert.equal(routeOf(ns, '-4', '198.51.100.7', 2), 'wan0');
      assert.equal(routeOf(ns, '-6', '2001:db8:5::7', 2), 'wan0');
    });
  });
});
