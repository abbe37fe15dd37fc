/**
 * Exact `.local` answers, through the real Unbound and straight to the sidecar, for the Avahi and
 * the native backend: a (name, type) → (rcode, answer/authority counts, AA/RA/TC) table — NODATA
 * for names that exist (RFC 2308), NXDOMAIN only for names with nothing at or below them (RFC
 * 8020), ANY answered minimally (RFC 8482), the zone apex and the DNS-SD empty non-terminals —
 * then glibc (`getent ahosts`) and Python `getaddrinfo` from the LAN namespace, and a service
 * published then withdrawn on the LAN seen through Unbound within 10 s (RFC 6762 §6.7 TTLs).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLab, type Lab } from '../lab/lab.js';
import { FIXTURES } from '../lab/fixtures.js';
import { labSkip } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { waitFor } from '../lab/wait.js';
import { data, labDns, startRenderedUnbound, unique, type Answer } from './lab-dns.js';

const [ONE] = FIXTURES.ipp.instances;
/** Unbound also listens on the router's LAN address, so LAN clients (glibc, Python) can use it. */
const LAN_UNBOUND = ['interface: 10.77.0.1', 'access-control: 10.77.0.0/24 allow'];

/** `type`: a name the lab probe knows, or a number (DNSKEY 48, HTTPS 65). */
type Row = readonly [name: string, type: string | number, rcode: string, answers: number, authority: number, viaUnboundAnswers?: number];

function rows(lab: Lab): Row[] {
  const instance = `${ONE?.name}.${FIXTURES.ipp.type}.local`;
  const reverse = `${lab.lanIp.split('.').reverse().join('.')}.in-addr.arpa`;
  const nobody = unique('nobody');
  return [
    [FIXTURES.printer.name, 'A', 'NOERROR', 1, 0],
    [FIXTURES.printer.name, 'AAAA', 'NOERROR', 0, 1], // A-only host: NODATA, not NXDOMAIN
    [FIXTURES.printer.name, 'TXT', 'NOERROR', 0, 1],
    [FIXTURES.printer.name, 65, 'NOERROR', 0, 1], // HTTPS
    [FIXTURES.printer.name, 'ANY', 'NOERROR', 1, 0], // RFC 8482: one RRset
    [FIXTURES.dual.name, 'A', 'NOERROR', 0, 1], // AAAA-only host
    [FIXTURES.dual.name, 'AAAA', 'NOERROR', 1, 0], // fe80:: dropped
    [lab.lanHostName, 'A', 'NOERROR', 1, 0],
    [lab.lanHostName, 'AAAA', 'NOERROR', 1, 0],
    [instance, 'SRV', 'NOERROR', 1, 0],
    [instance, 'TXT', 'NOERROR', 1, 0],
    [instance, 'A', 'NOERROR', 0, 1],
    [`${FIXTURES.ipp.type}.local`, 'PTR', 'NOERROR', 2, 0],
    [`${FIXTURES.ipp.type}.local`, 'SRV', 'NOERROR', 0, 1],
    ['_tcp.local', 'PTR', 'NOERROR', 0, 1], // empty non-terminals
    ['_udp.local', 'A', 'NOERROR', 0, 1],
    ['_dns-sd._udp.local', 'PTR', 'NOERROR', 0, 1],
    ['local', 'SOA', 'NOERROR', 1, 0], // apex
    ['local', 'NS', 'NOERROR', 1, 0],
    ['local', 'A', 'NOERROR', 0, 1],
    ['local', 48, 'NOERROR', 0, 1], // DNSKEY
    // Unbound answers ANY from its cache, which holds the apex SOA and NS asked just above.
    ['local', 'ANY', 'NOERROR', 1, 0, 2],
    [reverse, 'PTR', 'NOERROR', 1, 0],
    [reverse, 'A', 'NOERROR', 0, 1],
    [nobody, 'A', 'NXDOMAIN', 0, 1],
    [nobody, 'AAAA', 'NXDOMAIN', 0, 1],
    [unique('nobody-any'), 'ANY', 'NXDOMAIN', 0, 1],
  ];
}

/** glibc in the LAN namespace with a resolv.conf naming the router's Unbound (bind-mounted in the exec's own mount namespace). */
async function lanShell(lab: Lab, script: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const conf = join(lab.dir, 'lan', 'resolv.conf');
  writeFileSync(conf, 'nameserver 10.77.0.1\noptions timeout:3 attempts:2\n');
  return lab.exec('lan', ['unshare', '-m', 'sh', '-c', `mount --bind ${conf} /etc/resolv.conf && ${script}`], { timeoutMs: 20_000 });
}

for (const backend of ['avahi', 'native'] as const) {
  let lab: Lab;
  let sidecar: Sidecar;
  const dns = labDns(
    () => lab,
    () => sidecar,
  );

  describe(`.local answers exactly (${backend} backend, through Unbound and direct)`, { skip: labSkip({ sidecar: true }), timeout: 180_000 }, () => {
    before(async () => {
      lab = await createLab({ fixtures: true });
      if (backend === 'native') await lab.stopRouterAvahi('SIGTERM');
      sidecar = await startSidecar(lab, { config: { mdns: { backend, timeoutMs: 1000 } } });
      await startRenderedUnbound(lab, sidecar, LAN_UNBOUND);
      // The LAN host's records are published before the table is asked (the router may need a round).
      for (const [name, type] of [
        [FIXTURES.printer.name, 'A'],
        [lab.lanHostName, 'A'],
        [FIXTURES.dual.name, 'AAAA'],
        [`${ONE?.name}.${FIXTURES.ipp.type}.local`, 'SRV'],
      ] as const) {
        await dns.eventually(() => dns.direct(name, type));
      }
      await dns.eventually(async () => {
        const r = await dns.direct(`${FIXTURES.ipp.type}.local`, 'PTR');
        return data(r, 'PTR').length >= 2 ? r : { ...r, answers: [] };
      });
    });
    after(async () => {
      await sidecar?.stop();
      await lab?.teardown();
    });

    test('(name, type) → rcode, counts, flags: direct (AA, no RA) and through Unbound', async (t) => {
      const problems: string[] = [];
      const check = (how: string, [name, type, rcode, direct, ns, cachedAnswers]: Row, m: Answer): void => {
        const an = how === 'direct' ? direct : (cachedAnswers ?? direct);
        // Unbound answers from its cache as a recursive resolver: RA set, AA clear (RFC 1035 §4.1.1).
        const [aa, ra] = how === 'direct' ? [true, false] : [false, true];
        const authority = m.authority.filter((r) => r.type === 'SOA').length;
        const got = `${m.rcode} an=${m.answers.length} ns=${authority} aa=${m.aa} ra=${m.ra} tc=${m.tc}`;
        const want = `${rcode} an=${an} ns=${ns} aa=${aa} ra=${ra} tc=false`;
        if (got !== want) problems.push(`${how} ${name} ${type}: got ${got}, want ${want}`);
      };
      for (const row of rows(lab)) {
        const [name, type] = row;
        check('direct', row, await dns.direct(name, type));
        check('unbound', row, await dns.viaUnbound(name, type));
      }
      assert.deepEqual(problems, [], problems.join('\n'));
      t.diagnostic(`${rows(lab).length} rows × 2 paths`);
    });

    test('a missing type of a host that exists is NODATA at once, not after mdns.timeoutMs', async (t) => {
      // Fresh names so nothing is cached: an A-only and an AAAA-only host published now.
      const v4 = unique('only4');
      const pub = await lab.publishAddress(v4, '10.77.0.61');
      try {
        await dns.eventually(() => dns.direct(v4, 'A'));
        const m = await dns.viaUnbound(v4, 'AAAA');
        assert.deepEqual([m.rcode, m.answers.length], ['NOERROR', 0]);
        // Correctness, not speed (timings are in bench/cold-lookup.bench.ts): NODATA came from the
        // existing-name rule, not from a lookup that ran into the timeout.
        const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/metrics`);
        assert.match(r.ok ? r.body : '', /unbound_sidecar_local_names_existing_name_nodata_total [1-9]/);
        t.diagnostic(`AAAA of an A-only host through Unbound: ${m.ms.toFixed(0)} ms`);
      } finally {
        await pub.withdraw();
      }
    });

    test('glibc getent ahosts and Python getaddrinfo from the LAN namespace', async () => {
      const getent = async (name: string): Promise<string[]> => {
        const r = await lanShell(lab, `getent ahosts ${name}`);
        assert.equal(r.code, 0, `getent ahosts ${name}: ${r.stdout} ${r.stderr}`);
        return [
          ...new Set(
            r.stdout
              .split('\n')
              .map((l) => l.split(/\s+/)[0])
              .filter((a): a is string => a !== undefined && a !== ''),
          ),
        ].sort();
      };
      assert.deepEqual(await getent(FIXTURES.printer.name), [FIXTURES.printer.ipv4]);
      assert.deepEqual(await getent(FIXTURES.dual.name), [FIXTURES.dual.ipv6]);
      assert.deepEqual(await getent(lab.lanHostName), [lab.lanIp, lab.lanIp6].sort());
      const missing = await lanShell(lab, `getent ahosts ${unique('nobody')}`);
      assert.equal(missing.code, 2, 'getent: key not found');
      const py = await lanShell(
        lab,
        [
          '/usr/bin/python3 -c "',
          'import socket, sys',
          'for n in sys.argv[1:]:',
          '    print(n, sorted({a[4][0] for a in socket.getaddrinfo(n, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)}))',
          `" ${FIXTURES.printer.name} ${FIXTURES.dual.name} ${lab.lanHostName}`,
        ].join('\n'),
      );
      assert.equal(py.code, 0, py.stderr);
      assert.match(py.stdout, new RegExp(`${FIXTURES.printer.name} \\['${FIXTURES.printer.ipv4}'\\]`));
      assert.match(py.stdout, new RegExp(`${FIXTURES.dual.name} \\['${FIXTURES.dual.ipv6}'\\]`));
      assert.match(py.stdout, new RegExp(`${lab.lanHostName} \\['${lab.lanIp}', '${lab.lanIp6}'\\]`));
    });

    test('a service published, then withdrawn, on the LAN shows in a browse through Unbound within 10 s', async (t) => {
      const browse = `${FIXTURES.ipp.type}.local`;
      const instances = async (): Promise<string[]> => data(await dns.viaUnbound(browse, 'PTR'), 'PTR');
      await instances(); // Unbound has the browse cached before the change
      const label = `fresh-${backend}-${process.pid}`;
      const pub = await lab.publishService(label, FIXTURES.ipp.type, 6310, ['fresh=1']);
      const t0 = Date.now();
      await waitFor('the new instance in the browse', async () => (await instances()).some((p) => p.startsWith(label)), { timeoutMs: 10_000, intervalMs: 250 });
      const shown = Date.now() - t0;
      await pub.withdraw();
      const t1 = Date.now();
      await waitFor('the instance gone from the browse', async () => !(await instances()).some((p) => p.startsWith(label)), { timeoutMs: 10_000, intervalMs: 250 });
      t.diagnostic(`published → in the browse after ${shown} ms; withdrawn → gone after ${Date.now() - t1} ms`);
    });
  });
}
