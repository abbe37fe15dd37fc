/**
 * Asking the lab's DNS from the router namespace, for the `.local` integration suites (the same
 * helpers bridge.test.ts defines inline, shared so the native and auto suites ask the same way).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIXTURES, REVERSE_ZONE } from '../lab/fixtures.js';
import { randomBytes } from 'node:crypto';
import type { DnsQuery, DnsResult, Lab } from '../lab/lab.js';
import type { DecodedMessage } from '../lab/dns-message.js';
import type { Sidecar } from '../lab/sidecar.js';
import { sidecarEntry } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

export const UNBOUND_PORT = 53;

/**
 * Starts the lab's Unbound with exactly what `unbound-sidecar render unbound` prints for the
 * sidecar's config (the snippet a user pastes), plus `extraServer` lines; returns the snippet.
 */
export async function startRenderedUnbound(lab: Lab, sidecar: Sidecar, extraServer: readonly string[] = []): Promise<string> {
  const render = await lab.exec('router', [process.execPath, sidecarEntry(), 'render', 'unbound', '--config', sidecar.configFile]);
  assert.equal(render.code, 0, `render unbound failed: ${render.stderr}`);
  await lab.startUnbound({ forwardZones: [], forwardTo: '', snippet: render.stdout, port: UNBOUND_PORT, ...(extraServer.length > 0 ? { extraServer } : {}) });
  return render.stdout;
}

type Q = Omit<DnsQuery, 'server' | 'port' | 'name' | 'type'>;
export type Answer = DecodedMessage & { ms: number };

export interface LabDns {
  ask(port: number, name: string, type: string | number, opts?: Q): Promise<Answer>;
  viaUnbound(name: string, type: string | number, opts?: Q): Promise<Answer>;
  direct(name: string, type: string | number, opts?: Q): Promise<Answer>;
  /** Waits until a query answers with `rcode` (and, for NOERROR, at least one answer). */
  eventually(q: () => Promise<DecodedMessage>, rcode?: string, timeoutMs?: number): Promise<DecodedMessage>;
}

/** `getLab`/`getSidecar` are read per call: suites assign them in `before`. */
export function labDns(getLab: () => Lab, getSidecar: () => Sidecar | undefined): LabDns {
  const ask = async (port: number, name: string, type: string | number, opts: Q = {}): Promise<Answer> => {
    const r: DnsResult = await getLab().dns('router', { server: '127.0.0.1', port, name, type, timeoutMs: 5000, ...opts });
    if (!r.ok) assert.fail(`${name} ${type} @${port}: ${r.error}\n--- sidecar log tail ---\n${getSidecar()?.logs().slice(-1500) ?? ''}`);
    return { ...r.msg, ms: r.ms };
  };
  return {
    ask,
    viaUnbound: (name, type, opts) => ask(UNBOUND_PORT, name, type, opts),
    direct: (name, type, opts) => ask(getSidecar()?.dnsPort ?? 5335, name, type, opts),
    eventually(q, rcode = 'NOERROR', timeoutMs = 8000) {
      let last: DecodedMessage | undefined;
      return waitFor(
        `an answer with ${rcode}`,
        async () => {
          last = await q();
          return last.rcode === rcode && (rcode !== 'NOERROR' || last.answers.length > 0) ? last : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      ).catch((err: Error) => assert.fail(`${err.message}; last: ${JSON.stringify(last)}`));
    },
  };
}

export const data = (m: DecodedMessage, type: string): string[] => m.answers.filter((a) => a.type === type).map((a) => a.data);
export const unique = (label: string): string => `${label}-${randomBytes(4).toString('hex')}.local`;

/** One sample of a Prometheus metric from the sidecar's /metrics (labels as `k="v"` text), or 0. */
export async function metric(lab: Lab, sidecar: Sidecar, name: string, labels = ''): Promise<number> {
  const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/metrics`);
  if (!r.ok) return Number.NaN;
  const line = r.body.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * Cases every `.local` backend must pass through the real Unbound (Avahi in bridge.test.ts, native
 * mDNS in native-backend.test.ts): registered inside the caller's `describe`, reading the lab late.
 * `timeoutMs` is the sidecar's mdns.timeoutMs (bounds the first NXDOMAIN).
 */
export function sharedLocalCases(getLab: () => Lab, dns: LabDns, timeoutMs: number): void {
  const [ONE, TWO] = FIXTURES.ipp.instances;
  test('the LAN host name Avahi publishes, A and AAAA', async () => {
    const lab = getLab();
    const a = await dns.eventually(() => dns.viaUnbound(lab.lanHostName, 'A'));
    assert.deepEqual(data(a, 'A'), [lab.lanIp]);
    const aaaa = await dns.eventually(() => dns.viaUnbound(lab.lanHostName, 'AAAA'));
    assert.deepEqual(data(aaaa, 'AAAA'), [lab.lanIp6]);
  });

  test('AAAA never carries fe80::/10 (a unicast client cannot use an address without its scope)', async () => {
    const m = await dns.eventually(() => dns.viaUnbound(FIXTURES.dual.name, 'AAAA'));
    const addrs = data(m, 'AAAA');
    assert.ok(
      addrs.every((a) => !/^fe[89ab]/i.test(a)),
      `link-local leaked: ${addrs.join(', ')}`,
    );
    assert.deepEqual(addrs, [FIXTURES.dual.ipv6]);
  });

  test('SRV and TXT of an instance (a name with a space)', async () => {
    const lab = getLab();
    assert.ok(ONE && TWO);
    const srv = await dns.eventually(() => dns.viaUnbound(`${ONE.name}.${FIXTURES.ipp.type}.local`, 'SRV'));
    assert.deepEqual(data(srv, 'SRV'), [`0 0 ${ONE.port} ${lab.lanHostName}.`]);
    const txt = await dns.eventually(() => dns.viaUnbound(`${TWO.name}.${FIXTURES.ipp.type}.local`, 'TXT'));
    const strings = txt.answers.filter((a) => a.type === 'TXT').flatMap((a) => a.txt ?? []);
    assert.deepEqual(strings.sort(), [...TWO.txt].sort());
  });

  test('service-type enumeration (_services._dns-sd._udp.local, RFC 6763 §9)', async () => {
    const m = await dns.eventually(async () => {
      const r = await dns.viaUnbound('_services._dns-sd._udp.local', 'PTR');
      return data(r, 'PTR').length >= 2 ? r : { ...r, answers: [] };
    });
    const types = data(m, 'PTR');
    for (const t of [FIXTURES.ipp.type, FIXTURES.big.type]) assert.ok(types.includes(`${t}.local.`), `${t} missing from ${types.join(', ')}`);
  });

  test('reverse PTR of a LAN address', async () => {
    const lab = getLab();
    const name = `${lab.lanIp.split('.').reverse().join('.')}.in-addr.arpa`;
    assert.ok(`${name}.`.endsWith(REVERSE_ZONE));
    const m = await dns.eventually(() => dns.viaUnbound(name, 'PTR'));
    assert.deepEqual(data(m, 'PTR'), [`${lab.lanHostName}.`]);
  });

  test("NXDOMAIN with SOA within the timeout, then from Unbound's cache in ≤ 50 ms", async (t) => {
    const name = unique('nobody');
    const first = await dns.viaUnbound(name, 'A');
    assert.equal(first.rcode, 'NXDOMAIN');
    assert.ok(
      first.authority.some((r) => r.type === 'SOA'),
      'SOA in AUTHORITY (RFC 2308 §3)',
    );
    assert.ok(first.ms < timeoutMs + 500, `first answer took ${first.ms.toFixed(0)} ms`);
    const again = await dns.viaUnbound(name, 'A');
    assert.equal(again.rcode, 'NXDOMAIN');
    assert.ok(again.authority.some((r) => r.type === 'SOA'));
    assert.ok(again.ms <= 50, `cached NXDOMAIN took ${again.ms.toFixed(1)} ms`);
    t.diagnostic(`NXDOMAIN first ${first.ms.toFixed(1)} ms, cached ${again.ms.toFixed(2)} ms`);
  });
}
