/**
 * The front starting before one of its listen addresses exists, as on a router whose LAN bridge
 * gets its address after the daemon starts: bind(2) says EADDRNOTAVAIL. The daemon must start and
 * serve the address that is there, say which one is missing, and bind it as soon as it appears —
 * an IPv4 address, and an IPv6 one that also goes through duplicate address detection (tentative,
 * so not bindable, for about a second after `ip addr add`). With the default `allow`, the new
 * address's network is answered, not REFUSED.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLab, type Lab } from '../lab/lab.js';
import { labSkip } from '../lab/prereqs.js';
import type { Sidecar } from '../lab/sidecar.js';
import { waitFor } from '../lab/wait.js';
import { startFrontSidecar, startProxiedUnbound, STATIC_ZONE } from '../helpers/front-netns.js';

const NAME = `www.${STATIC_ZONE}`;
/** Not on any interface when the daemon starts; the LAN host gets .2 / ::2 beside them. */
const LATE_V4 = '10.77.1.1';
const LATE_V6 = 'fd77:1::1';

describe('DNS front: a listen address that appears after the start', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  let lab: Lab;
  let sidecar: Sidecar;
  const status = async (): Promise<{ listen: string[]; notBound?: string[] }> => {
    const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/api/status`);
    assert.ok(r.ok, 'status');
    return (JSON.parse(r.body) as { health: { front: { listen: string[]; notBound?: string[] } } }).health.front;
  };
  const readyz = async (): Promise<{ status: number; body: string }> => {
    const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/readyz`);
    assert.ok(r.ok, 'readyz');
    return r;
  };
  const ask = (server: string, source: string, tcp = false) => lab.dns('lan', { server, port: 53, name: NAME, type: 'A', tcp, source, timeoutMs: 1000 });

  before(async () => {
    lab = await createLab();
    await startProxiedUnbound(lab, [`${NAME}. 300 IN A 192.0.2.80`], ['10.77.0.0/16', 'fd77::/16']);
    // The LAN host's addresses in the late networks exist from the start; the router's do not.
    await lab.lan.run(['ip', 'addr', 'add', '10.77.1.2/24', 'dev', lab.lan.ifname]);
    await lab.lan.run(['ip', 'addr', 'add', 'fd77:1::2/64', 'dev', lab.lan.ifname, 'nodad']);
    // Up, and not ready only because of the front's missing addresses (every other check passes).
    const upButLate = (r: { status: number; body: string }) =>
      r.status === 503 &&
      r.body
        .split('\n')
        .filter((l) => l.startsWith('FAIL'))
        .every((l) => l.startsWith('FAIL front: not listening on'));
    sidecar = await startFrontSidecar(lab, { listen: [`${lab.routerIp}:53`, `${LATE_V4}:53`, `[${LATE_V6}]:53`] }, { readyWhen: upButLate });
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('the daemon starts, answers on the address that is there, and names the missing ones in status and log', async () => {
    const r = await ask(lab.routerIp, lab.lanIp);
    assert.ok(r.ok && r.msg.rcode === 'NOERROR', `answered on ${lab.routerIp}: ${JSON.stringify(r)}`);
    assert.deepEqual((await status()).notBound, [`${LATE_V4}:53`, `[${LATE_V6}]:53`]);
    assert.match(sidecar.logs(), new RegExp(`cannot listen on ${LATE_V4.replaceAll('.', '\\.')}:53 yet: no interface has ${LATE_V4.replaceAll('.', '\\.')} \\(EADDRNOTAVAIL\\)`));
    assert.match(sidecar.logs(), /ip_nonlocal_bind/);
    const ready = await readyz();
    assert.equal(ready.status, 503, 'not ready while a listen address is missing');
    assert.match(ready.body, new RegExp(`FAIL front: not listening on ${LATE_V4.replaceAll('.', '\\.')}:53, \\[${LATE_V6}\\]:53 yet .*; listening on ${lab.routerIp.replaceAll('.', '\\.')}:53`));
  });

  test('ip addr add: the front answers there within a few seconds, UDP and TCP, its network allowed by default', async (t) => {
    const answered = async (server: string, source: string, since: number): Promise<void> => {
      const r = await waitFor(
        `an answer on ${server}`,
        async () => {
          const a = await ask(server, source);
          return a.ok ? a : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const s = (performance.now() - since) / 1000;
      t.diagnostic(`${server}: answered ${s.toFixed(1)} s after it became usable`);
      assert.equal(r.msg.rcode, 'NOERROR', `${server}: the late network is allowed (default allow rebuilt), Unbound answers`);
      assert.ok(s < 4, `${server} answered after ${s.toFixed(1)} s`);
      const tcp = await ask(server, source, true);
      assert.ok(tcp.ok && tcp.msg.rcode === 'NOERROR', `${server} over TCP: ${JSON.stringify(tcp)}`);
    };
    const v4 = performance.now();
    await lab.router.run(['ip', 'addr', 'add', `${LATE_V4}/24`, 'dev', lab.router.ifname]);
    await answered(LATE_V4, '10.77.1.2', v4);
    assert.deepEqual((await status()).notBound, [`[${LATE_V6}]:53`]);
    // With DAD (RFC 4862 §5.4): tentative, so bind(2) still says EADDRNOTAVAIL, for about a second.
    await lab.router.run(['ip', 'addr', 'add', `${LATE_V6}/64`, 'dev', lab.router.ifname]);
    await waitFor('DAD to end', async () => (await lab.router.run(['ip', '-6', 'addr', 'show', 'dev', lab.router.ifname, 'tentative'])).trim() === '', { timeoutMs: 10_000 });
    await answered(LATE_V6, 'fd77:1::2', performance.now());
    assert.deepEqual((await status()).notBound, []);
    assert.match(sidecar.logs(), /listening on 10\.77\.1\.1:53 \(the address appeared\)/);
    assert.equal((await readyz()).status, 200, 'ready once every address is bound');
  });
});
