/**
 * The .local bridge end to end: a LAN host publishes with avahi-publish; a client in the router namespace
 * asks the real Unbound, which forwards `local.` and the LAN reverse zone to the real daemon, which
 * asks the router's real avahi-daemon over its own system bus. "direct" tests talk to the sidecar.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, type Lab } from '../lab/lab.js';
import { FIXTURES } from '../lab/fixtures.js';
import { labSkip, sidecarEntry } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { sleep } from '../lab/wait.js';
import { data, labDns, metric, unique, UNBOUND_PORT, startRenderedUnbound } from './lab-dns.js';
import { sharedLocalCases } from './lab-dns.js';

const TIMEOUT_MS = 1000; // mdns.timeoutMs in the lab config

let lab: Lab;
let sidecar: Sidecar;

const dns = labDns(
  () => lab,
  () => sidecar,
);
const { viaUnbound, direct, eventually } = dns;

describe('the .local bridge end to end (Unbound → sidecar → Avahi)', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    // hot.local: TTL 0, so Unbound forwards every ask (keeps its RTT estimate for us at the floor).
    sidecar = await startSidecar(lab, { config: { mdns: { policy: { staticRecords: ['hot.local. 0 A 10.0.0.2'] } } } });
    // Unbound gets exactly what `unbound-sidecar render unbound` prints for this config.
    assert.match(await startRenderedUnbound(lab, sidecar), /forward-addr: 127\.0\.0\.1@5335/);
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('A of a published address', async () => {
    const m = await eventually(() => viaUnbound(FIXTURES.printer.name, 'A'));
    assert.deepEqual(data(m, 'A'), [FIXTURES.printer.ipv4]);
    assert.ok(m.ra, 'RA set');
  });

  test('the host name Avahi publishes for the router itself', async () => {
    const self = await eventually(() => viaUnbound(lab.routerHostName, 'A'));
    assert.deepEqual(data(self, 'A'), [lab.routerIp]);
  });

  test('PTR browse returns both instances', async () => {
    const want = FIXTURES.ipp.instances.map((i) => `${i.name.replace(/ /g, '\\032')}.${FIXTURES.ipp.type}.local.`).sort();
    const m = await eventually(async () => {
      const r = await viaUnbound(`${FIXTURES.ipp.type}.local`, 'PTR');
      return data(r, 'PTR').length >= 2 ? r : { ...r, answers: [] };
    });
    assert.deepEqual(data(m, 'PTR').sort(), want);
  });

  sharedLocalCases(() => lab, dns, TIMEOUT_MS);

  test('slow misses through Unbound: handed off to TCP once each, never retransmitted, never SERVFAIL', async (t) => {
    // Quick answers drive Unbound's retransmit timeout for the sidecar to its 50 ms floor; a 1 s
    // miss would then be sent ~10 times over UDP. With the TC hand-off each costs 1 UDP + 1 TCP.
    for (let i = 0; i < 30; i++) assert.equal((await viaUnbound('hot.local', 'A')).rcode, 'NOERROR');
    const handoffs0 = await metric(lab, sidecar, 'unbound_sidecar_dns_udp_handoffs_total', 'zone="local.",qtype="A"');
    const nx0 = await metric(lab, sidecar, 'unbound_sidecar_dns_requests_total', 'zone="local.",qtype="A",rcode="NXDOMAIN"');
    const MISSES = 20;
    const answers = await Promise.all(Array.from({ length: MISSES }, () => viaUnbound(unique('slow-miss'), 'A')));
    assert.deepEqual(
      answers.map((a) => a.rcode),
      Array(MISSES).fill('NXDOMAIN'),
    );
    const handoffs = (await metric(lab, sidecar, 'unbound_sidecar_dns_udp_handoffs_total', 'zone="local.",qtype="A"')) - handoffs0;
    const nx = (await metric(lab, sidecar, 'unbound_sidecar_dns_requests_total', 'zone="local.",qtype="A",rcode="NXDOMAIN"')) - nx0;
    t.diagnostic(`${MISSES} misses: ${handoffs} UDP hand-offs, ${nx} NXDOMAIN replies sent`);
    assert.ok(handoffs >= MISSES && handoffs <= MISSES + 2, `one hand-off per miss, got ${handoffs} for ${MISSES}`);
    assert.ok(nx >= MISSES && nx <= MISSES + 2, `one NXDOMAIN (over TCP) per miss, got ${nx} for ${MISSES}`);
  });

  test('REFUSED off-zone, direct to the sidecar (never an open resolver)', async () => {
    for (const [name, type] of [
      ['example.com', 'A'],
      ['1.1.168.192.in-addr.arpa', 'PTR'],
      ['local.example', 'A'],
    ] as const) {
      const m = await direct(name, type);
      assert.equal(m.rcode, 'REFUSED', `${name} ${type}`);
      assert.equal(m.answers.length, 0);
    }
  });

  test('TCP: through Unbound and direct', async () => {
    const u = await viaUnbound(FIXTURES.printer.name, 'A', { tcp: true });
    assert.deepEqual(data(u, 'A'), [FIXTURES.printer.ipv4]);
    const d = await direct(FIXTURES.printer.name, 'A', { tcp: true });
    assert.deepEqual(data(d, 'A'), [FIXTURES.printer.ipv4]);
    const kdig = await lab.exec('router', ['kdig', '@127.0.0.1', '-p', String(sidecar.dnsPort), '+tcp', '+retry=0', '+timeout=3', FIXTURES.printer.name, 'A']);
    assert.match(kdig.stdout, /status: NOERROR/);
    assert.match(kdig.stdout, new RegExp(`printer\\.local\\.\\s+\\d+\\s+IN\\s+A\\s+${FIXTURES.printer.ipv4.replace(/\./g, '\\.')}`));
  });

  test('0x20: the question is echoed byte for byte', async () => {
    const mixed = 'PrInTeR.LoCaL';
    const m = await direct(mixed, 'A', { tcp: false });
    assert.equal(m.question?.name, `${mixed}.`);
    const overTcp = await direct(mixed, 'A', { tcp: true });
    assert.equal(overTcp.question?.name, `${mixed}.`);
    assert.deepEqual(data(m, 'A'), [FIXTURES.printer.ipv4]);
    // Not checked with kdig: knot-dnsutils 3.2 lowercases the name before sending (see `kdig +qr`),
    // so the lab probe, which sends the bytes it is given, is the client here.
  });

  test('0x20 through Unbound with use-caps-for-id: yes (Unbound checks the echo)', async () => {
    await lab.stopUnbound();
    const render = await lab.exec('router', [process.execPath, sidecarEntry(), 'render', 'unbound', '--config', sidecar.configFile]);
    try {
      await lab.startUnbound({ forwardZones: [], forwardTo: '', snippet: render.stdout, port: UNBOUND_PORT, extraServer: ['use-caps-for-id: yes'] });
      const m = await viaUnbound(lab.lanHostName, 'A');
      assert.equal(m.rcode, 'NOERROR');
      assert.deepEqual(data(m, 'A'), [lab.lanIp]);
    } finally {
      await lab.startUnbound({ forwardZones: [], forwardTo: '', snippet: render.stdout, port: UNBOUND_PORT });
    }
  });

  test('EDNS: OPT only when asked; TC=1 over UDP when too big, the full answer over TCP', async () => {
    const plain = await direct(FIXTURES.printer.name, 'A');
    assert.equal(plain.edns, undefined, 'no OPT in a reply to a query without one (RFC 6891 §7)');
    const withEdns = await direct(FIXTURES.printer.name, 'A', { ednsUdpSize: 1232 });
    assert.ok(withEdns.edns, 'OPT in the reply to an EDNS query');

    const big = `${FIXTURES.big.name}.${FIXTURES.big.type}.local`;
    await eventually(() => direct(big, 'TXT', { tcp: true }));
    for (const ednsUdpSize of [undefined, 1232]) {
      const udp = await direct(big, 'TXT', ednsUdpSize === undefined ? { followTc: false } : { ednsUdpSize, followTc: false });
      assert.equal(udp.tc, true, `TC with ${ednsUdpSize ?? 512}-byte limit (reply was ${udp.size} B)`);
      assert.ok(udp.size <= (ednsUdpSize ?? 512), `UDP reply of ${udp.size} B exceeds ${ednsUdpSize ?? 512}`);
    }
    const tcp = await direct(big, 'TXT', { tcp: true, ednsUdpSize: 1232 });
    assert.equal(tcp.tc, false);
    assert.deepEqual(tcp.answers.flatMap((a) => a.txt ?? []).sort(), [...FIXTURES.big.txt].sort());
    // Unbound must have retried over TCP to get it (it caps its UDP replies at 1232 B, so ask it over TCP).
    const viaTcp = await viaUnbound(big, 'TXT', { tcp: true });
    assert.deepEqual(viaTcp.answers.flatMap((a) => a.txt ?? []).sort(), [...FIXTURES.big.txt].sort());
    const viaUdp = await viaUnbound(big, 'TXT', { ednsUdpSize: 1232, followTc: false });
    assert.equal(viaUdp.tc, true);
  });

  test('metrics are exported', async () => {
    const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/metrics`);
    assert.ok(r.ok && r.status === 200);
    assert.match(r.body, /unbound_sidecar_dns_requests_total\{/);
  });

  test('CLI resolve: zone-file lines through the configured backend; exit 1 on NXDOMAIN', async () => {
    const cli = (...args: string[]) => lab.exec('router', [process.execPath, sidecarEntry(), 'resolve', ...args, '--config', sidecar.configFile], { env: { DBUS_SYSTEM_BUS_ADDRESS: lab.routerBus } });
    const a = await cli(FIXTURES.printer.name, 'A');
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`^${FIXTURES.printer.name.replace(/\./g, '\\.')}\\.\\t\\d+\\tIN\\tA\\t${FIXTURES.printer.ipv4.replace(/\./g, '\\.')}$`, 'im'));
    const ptr = await cli('_ipp._tcp.local', 'PTR');
    assert.equal(ptr.code, 0, ptr.stderr);
    assert.equal(ptr.stdout.trim().split('\n').length, 2, ptr.stdout);
    const missing = await cli(unique('nobody'), 'A');
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stdout, /NXDOMAIN/);
  });

  test('avahi-daemon killed → SERVFAIL fast → answers again after it restarts', async (t) => {
    await eventually(() => direct(lab.lanHostName, 'A'));
    await lab.stopRouterAvahi('SIGKILL');
    // The sidecar watches NameOwnerChanged; give the signal a moment to arrive, as a crash would.
    await sleep(50);
    const d = await direct(unique('during-outage'), 'A');
    assert.equal(d.rcode, 'SERVFAIL', 'direct: SERVFAIL while Avahi is gone');
    assert.ok(d.ms < 200, `direct SERVFAIL took ${d.ms.toFixed(0)} ms`);
    // Unbound retries its forwarder before giving up, but must not hang either.
    const u = await viaUnbound(unique('during-outage'), 'A');
    assert.equal(u.rcode, 'SERVFAIL', 'through Unbound: SERVFAIL while Avahi is gone');
    assert.ok(u.ms < 3000, `SERVFAIL through Unbound took ${u.ms.toFixed(0)} ms`);
    const ready = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/readyz`);
    assert.ok(ready.ok && ready.status !== 200, `/readyz while Avahi is gone: ${ready.ok ? ready.status : ready.error}`);

    await lab.startRouterAvahi();
    const restarted = Date.now();
    const back = await eventually(() => direct(lab.lanHostName, 'A'), 'NOERROR', 15_000);
    assert.deepEqual(data(back, 'A'), [lab.lanIp]);
    const backU = await eventually(() => viaUnbound(FIXTURES.printer.name, 'A'), 'NOERROR', 15_000);
    assert.deepEqual(data(backU, 'A'), [FIXTURES.printer.ipv4]);
    assert.equal(sidecar.child.exitCode, null, 'the sidecar survived');
    t.diagnostic(`SERVFAIL direct ${d.ms.toFixed(1)} ms, via Unbound ${u.ms.toFixed(1)} ms; answering again ${Date.now() - restarted} ms after Avahi was back`);
  });
});
