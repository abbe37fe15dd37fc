/**
 * The DNS front under abuse, end to end through the real Unbound and Avahi in the lab: slow-loris
 * clients on the sidecar's TCP port must not turn slow `.local` answers into SERVFAIL (those reach
 * Unbound over TCP after the UDP hand-off, RFC 7766), and a flood of misses through Unbound must
 * not starve a name Avahi knows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURES } from '../lab/fixtures.js';
import { createLab, type Lab } from '../lab/lab.js';
import { labSkip } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { data, labDns, metric, unique, startRenderedUnbound } from './lab-dns.js';

const MAX_TCP = 64;

let lab: Lab;
let sidecar: Sidecar;
const { viaUnbound, eventually } = labDns(
  () => lab,
  () => sidecar,
);

describe('the DNS front under abuse (Unbound → sidecar → Avahi)', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    sidecar = await startSidecar(lab, { config: { dns: { maxTcpConnections: MAX_TCP } } });
    await startRenderedUnbound(lab, sidecar);
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test(`slow-loris clients holding ${2 * MAX_TCP} TCP connections: slow .local answers through Unbound are still answered`, async (t) => {
    await eventually(() => viaUnbound(FIXTURES.printer.name, 'A'));
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const script = fileURLToPath(new URL(`./slow-loris-client${ext}`, import.meta.url));
    const DURATION_MS = 12_000;
    // One byte a second: well inside the old 10 s idle timeout, which every byte restarted.
    const loris = lab.router.spawn([process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--test')), script, String(sidecar.dnsPort), String(2 * MAX_TCP), '1000', String(DURATION_MS)]);
    let out = '';
    loris.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    loris.stderr?.resume();
    const done = new Promise<void>((r) => loris.once('exit', () => r()));
    try {
      await new Promise((r) => setTimeout(r, 1500)); // every slot taken, the rest knocking
      const rcodes: string[] = [];
      for (let round = 0; round < 4; round++) {
        // Misses take mdns.timeoutMs (1 s): handed off to TCP, where the slots are.
        const misses = await Promise.all(Array.from({ length: 5 }, () => viaUnbound(unique('loris-miss'), 'A')));
        rcodes.push(...misses.map((m) => m.rcode));
      }
      t.diagnostic(`rcodes during the attack: ${JSON.stringify(rcodes.reduce<Record<string, number>>((n, r) => ((n[r] = (n[r] ?? 0) + 1), n), {}))}`);
      assert.deepEqual(rcodes, Array(20).fill('NXDOMAIN'));
      const closed = (reason: string) => metric(lab, sidecar, 'unbound_sidecar_dns_tcp_connections_closed_total', `reason="${reason}"`);
      const [evicted, deadline] = [await closed('evicted'), await closed('message-timeout')];
      t.diagnostic(`sidecar closed ${evicted} by eviction, ${deadline} at the message deadline`);
      assert.ok(evicted + deadline > 0);
    } finally {
      await done;
    }
    t.diagnostic(`slow-loris client: ${out.trim()}`);
    assert.match(out, /"closedByServer":[1-9]/);
  });

  test('a flood of misses does not starve a name answered before once its cache entry expires (native backend)', async (t) => {
    // Native mDNS: the lookup is a real query on the LAN link that the LAN host's Avahi answers,
    // and responders cap legacy-unicast TTLs at 10 s (RFC 6762 §6.7), so the entry expires soon.
    const native = await startSidecar(lab, {
      dnsPort: 5336,
      metricsPort: 9336,
      logName: 'sidecar-native',
      config: { mdns: { backend: 'native', timeoutMs: 1000, maxConcurrentLookups: 64, reservedLookups: 16 } },
    });
    try {
      const ask = (name: string, timeoutMs: number, followTc = true) => lab.dns('router', { server: '127.0.0.1', port: native.dnsPort, name, type: 'A', timeoutMs, followTc });
      const first = await eventually(async () => {
        const r = await ask(FIXTURES.printer.name, 3000);
        return r.ok ? r.msg : ({ rcode: 'timeout', answers: [] } as unknown as Awaited<ReturnType<typeof viaUnbound>>);
      });
      assert.deepEqual(data(first, 'A'), [FIXTURES.printer.ipv4]);
      const ttl = first.answers[0]?.ttl ?? 10;
      await new Promise((r) => setTimeout(r, ttl * 1000 + 1200)); // expired in the sidecar's cache
      // 600 misses over UDP: each is handed off (TC) after 25 ms, its lookup goes on and holds one
      // of the 64 slots (48 beside the reserved ones) for mdns.timeoutMs (1 s) — 9 to 12 s of
      // backlog, far beyond Unbound's 3 s, at a cost a loaded test machine can carry.
      const flood = Promise.all(Array.from({ length: 600 }, () => ask(unique('flood'), 2000, false)));
      await new Promise((r) => setTimeout(r, 300));
      // As Unbound asks: UDP, then TCP after the hand-off; 3 s is how long Unbound waits over TCP.
      const probe = await ask(FIXTURES.printer.name, 3000);
      t.diagnostic(`probe during the flood: ${JSON.stringify(probe.ok ? { ms: Math.round(probe.ms), rcode: probe.msg.rcode } : probe)}`);
      assert.ok(probe.ok, 'the known name was answered within 3 s');
      assert.equal(probe.msg.rcode, 'NOERROR');
      assert.deepEqual(data(probe.msg, 'A'), [FIXTURES.printer.ipv4]);
      assert.ok((await metric(lab, native, 'unbound_sidecar_local_names_priority_lookups_total')) >= 1);
      await flood;
    } finally {
      await native.stop();
    }
  });
});
