/**
 * `mdns.backend: auto` switches live. The router's avahi-daemon starts stopped (native
 * answers), is started (→ Avahi), and stopped again (→ native), while a steady stream of queries
 * runs against the sidecar. The answer cache holds one entry, so nearly every query is a real
 * backend lookup: none may SERVFAIL, time out or come back wrong across either switch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, type Lab } from '../lab/lab.js';
import { FIXTURES } from '../lab/fixtures.js';
import { labSkip } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { sleep, waitFor } from '../lab/wait.js';
import { data, metric } from './lab-dns.js';

let lab: Lab;
let sidecar: Sidecar;

interface Stream {
  stop(): Promise<{ total: number; failures: string[] }>;
}

/** `workers` concurrent loops asking names in rotation, directly to the sidecar. */
function startStream(workers: number): Stream {
  const [ONE] = FIXTURES.ipp.instances;
  const questions: [string, string, (m: Parameters<typeof data>[0]) => boolean][] = [
    [FIXTURES.printer.name, 'A', (m) => data(m, 'A').join() === FIXTURES.printer.ipv4],
    [lab.lanHostName, 'A', (m) => data(m, 'A').join() === lab.lanIp],
    [FIXTURES.dual.name, 'AAAA', (m) => data(m, 'AAAA').join() === FIXTURES.dual.ipv6],
    [lab.lanHostName, 'AAAA', (m) => data(m, 'AAAA').join() === lab.lanIp6],
    [`${ONE?.name}.${FIXTURES.ipp.type}.local`, 'SRV', (m) => data(m, 'SRV').length === 1],
  ];
  let running = true;
  let total = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; running; i++) {
      const [name, type, ok] = questions[i % questions.length] ?? questions[0]!;
      const r = await lab.dns('router', { server: '127.0.0.1', port: sidecar.dnsPort, name, type, timeoutMs: 3000 });
      total++;
      if (!r.ok) failures.push(`${new Date().toISOString()} ${name} ${type}: ${r.error}`);
      else if (r.msg.rcode !== 'NOERROR' || !ok(r.msg))
        failures.push(`${new Date().toISOString()} ${name} ${type}: ${r.msg.rcode} ${JSON.stringify(r.msg.answers.map((a) => a.data))} in ${r.ms.toFixed(0)} ms`);
      await sleep(20);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { total, failures };
    },
  };
}

const active = async (backend: 'avahi' | 'native'): Promise<boolean> => (await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_active', `backend="${backend}"`)) === 1;

describe('backend auto switches between native and Avahi live', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    await lab.stopRouterAvahi('SIGTERM');
    sidecar = await startSidecar(lab, { config: { mdns: { backend: 'auto', timeoutMs: 1000, cacheSize: 1 } } });
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('native → Avahi when avahi-daemon starts → native when it stops, no query lost', async (t) => {
    assert.ok(await active('native'), 'starts on native: the router has no Avahi');
    // Everything answers on native before the stream starts (the LAN host may still be announcing).
    for (const [name, type] of [
      [FIXTURES.printer.name, 'A'],
      [lab.lanHostName, 'A'],
    ] as const) {
      await waitFor(`${name} on native`, async () => (await lab.dns('router', { server: '127.0.0.1', port: sidecar.dnsPort, name, type })).ok);
    }
    const stream = startStream(4);
    try {
      await sleep(1000);
      const t0 = Date.now();
      await lab.startRouterAvahi();
      await waitFor('the switch to Avahi', () => active('avahi'), { timeoutMs: 10_000, intervalMs: 50 });
      t.diagnostic(`switched to Avahi ${Date.now() - t0} ms after avahi-daemon was started`);
      await sleep(2500);
      const viaAvahi = await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_lookups_total', 'backend="avahi",outcome="records"');
      assert.ok(viaAvahi > 0, 'lookups were answered by Avahi after the switch');

      const t1 = Date.now();
      await lab.stopRouterAvahi('SIGKILL');
      await waitFor('the switch back to native', () => active('native'), { timeoutMs: 5000, intervalMs: 20 });
      t.diagnostic(`switched back to native ${Date.now() - t1} ms after avahi-daemon was killed`);
      await sleep(2500);
    } finally {
      const { total, failures } = await stream.stop();
      t.diagnostic(`${total} queries during the switches, ${failures.length} failed`);
      assert.deepEqual(failures, [], `failed queries:\n${failures.join('\n')}\n--- sidecar log tail ---\n${sidecar.logs().slice(-3000)}`);
      assert.ok(total > 100, `only ${total} queries ran`);
    }
    assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_switches_total', 'to="avahi"'), 1);
    assert.equal(await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_switches_total', 'to="native"'), 1);
    const logs = sidecar.logs();
    assert.match(logs, /avahi-daemon appeared, switching to the Avahi backend/);
    assert.match(logs, /avahi-daemon went away, switching to the native mDNS backend/);
    const nativeAfter = await metric(lab, sidecar, 'unbound_sidecar_local_names_backend_lookups_total', 'backend="native",outcome="records"');
    assert.ok(nativeAfter > 0);
  });
});
