/**
 * The native mDNS backend: the bridge's main cases again with the router's avahi-daemon STOPPED and
 * `mdns.backend: native` — the sidecar sends its own one-shot mDNS queries on lan0 and the LAN
 * host's Avahi answers them (legacy unicast, RFC 6762 §6.7). Through the real Unbound.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, type Lab } from '../lab/lab.js';
import { FIXTURES } from '../lab/fixtures.js';
import { labSkip } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { nameHasOwner } from '../lab/dbus.js';
import { data, labDns, metric, startRenderedUnbound } from './lab-dns.js';
import { sharedLocalCases } from './lab-dns.js';

const TIMEOUT_MS = 1000;

let lab: Lab;
let sidecar: Sidecar;
const dns = labDns(
  () => lab,
  () => sidecar,
);
const { viaUnbound, direct, eventually } = dns;

describe('.local through the native mDNS backend (router avahi-daemon stopped)', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    await lab.stopRouterAvahi('SIGTERM');
    sidecar = await startSidecar(lab, { config: { mdns: { backend: 'native', timeoutMs: TIMEOUT_MS } } });
    await startRenderedUnbound(lab, sidecar);
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('the router has no Avahi; the sidecar queries on lan0, IPv4 and IPv6', async () => {
    assert.equal(await nameHasOwner(lab.router, 'org.freedesktop.Avahi'), false);
    assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_active', 'backend="native"'), 1);
    assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_mdns_sockets', 'family="ipv4"'), 1);
    assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_mdns_sockets', 'family="ipv6"'), 1);
    assert.match(sidecar.logs(), /"ifname":"lan0".*mdns: querying on interface/);
  });

  test('A of a published address, with the responder TTL (legacy unicast caps it at 10 s)', async (t) => {
    const m = await eventually(() => viaUnbound(FIXTURES.printer.name, 'A'));
    assert.deepEqual(data(m, 'A'), [FIXTURES.printer.ipv4]);
    const d = await direct(FIXTURES.printer.name, 'A');
    assert.ok((d.answers[0]?.ttl ?? 0) <= 10, `TTL ${d.answers[0]?.ttl}`);
    t.diagnostic(`A answered with TTL ${d.answers[0]?.ttl}`);
  });

  test('PTR browse returns both instances, without waiting for the whole window', async (t) => {
    const want = FIXTURES.ipp.instances.map((i) => `${i.name.replace(/ /g, '\\032')}.${FIXTURES.ipp.type}.local.`).sort();
    // Cold: the collect ends collectQuietMs (250) after the query, not at browseWindowMs (1000).
    const cold = await direct(`${FIXTURES.ipp.type}.local`, 'PTR');
    assert.deepEqual(data(cold, 'PTR').sort(), want);
    assert.ok(cold.ms < 700, `cold browse took ${cold.ms.toFixed(0)} ms`);
    t.diagnostic(`cold PTR browse ${cold.ms.toFixed(1)} ms`);
    const m = await eventually(async () => {
      const r = await viaUnbound(`${FIXTURES.ipp.type}.local`, 'PTR');
      return data(r, 'PTR').length >= 2 ? r : { ...r, answers: [] };
    });
    assert.deepEqual(data(m, 'PTR').sort(), want);
    const fresh = await direct(`_nope-${Date.now()}._tcp.local`, 'PTR');
    assert.equal(fresh.rcode, 'NXDOMAIN');
    assert.ok(fresh.ms < TIMEOUT_MS + 300, `empty browse took ${fresh.ms.toFixed(0)} ms`);
  });

  sharedLocalCases(() => lab, dns, TIMEOUT_MS);

  test('0x20 and TCP work the same on this backend', async () => {
    const mixed = 'PrInTeR.LoCaL';
    const m = await direct(mixed, 'A', { tcp: true });
    assert.equal(m.question?.name, `${mixed}.`);
    assert.deepEqual(data(m, 'A'), [FIXTURES.printer.ipv4]);
  });

  test('a hostile LAN host flooding the query socket with junk changes nothing', async (t) => {
    const port = /"family":4,"address":"10\.77\.0\.1","port":(\d+)/.exec(sidecar.logs())?.[1];
    assert.ok(port, 'the IPv4 query port is logged');
    const seen = async (): Promise<number> => {
      let n = 0;
      for (const o of ['accepted', 'malformed', 'short']) n += await metric(lab, sidecar, 'unbound_sidecar_local_names_mdns_packets_total', `outcome="${o}"`);
      return n;
    };
    const before = await seen();
    // 10 000 random "responses" from the mDNS port of an on-link host: QR set, opcode and rcode 0,
    // so each reaches the parser (with reuseAddr: the LAN host's Avahi holds 5353 too).
    const script = `const s=require('dgram').createSocket({type:'udp4',reuseAddr:true});const c=require('crypto');
      s.bind(5353,'${lab.lanIp}',async()=>{for(let i=0;i<200;i++){for(let k=0;k<50;k++){const b=c.randomBytes(12+c.randomInt(1500));b[2]=0x84;b[3]=0;s.send(b,${port},'${lab.routerIp}')}
      await new Promise(r=>setTimeout(r,2))}setTimeout(()=>s.close(),200)})`;
    const flood = await lab.exec('lan', [process.execPath, '-e', script], { timeoutMs: 30_000 });
    assert.equal(flood.code, 0, flood.stderr);
    const after = await seen();
    t.diagnostic(`${after - before} of 10000 junk datagrams reached the parser (the rest overflowed the socket buffer)`);
    assert.ok(after - before > 5000, `the parser kept up with the junk (${after - before})`);
    await lab.publishAddress('after-flood.local', '10.77.0.61');
    const m = await direct('after-flood.local', 'A');
    assert.deepEqual(data(m, 'A'), ['10.77.0.61']);
    assert.equal(sidecar.child.exitCode, null);
  });

  test('replies were parsed and none was refused as off-link or from a wrong port', async () => {
    assert.ok((await metric(lab, sidecar, 'unbound_sidecar_local_names_mdns_packets_total', 'outcome="accepted"')) > 0);
    for (const outcome of ['off-link', 'bad-port']) {
      assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_mdns_packets_total', `outcome="${outcome}"`), 0, outcome);
    }
    assert.equal(sidecar.child.exitCode, null);
  });
});
