/**
 * Cold lookup: the time the sidecar takes to answer an A query for a published name it has never
 * seen (its cache cold; a different name per sample), vs `avahi-resolve -4 -n NAME` for an
 * equally fresh name, both in the router namespace against the same avahi-daemon.
 *
 * Two situations:
 * - "avahi warm": the LAN host's announcements are already in the router Avahi's cache (the usual
 *   case on a LAN: mDNS hosts announce themselves), so the cost is the D-Bus round and our own code.
 * - "avahi cold": the router's avahi-daemon is restarted before each sample, so the answer needs an
 *   mDNS query on the wire.
 * avahi-resolve is a process per lookup, so the sidecar is also shown through `kdig` (a process per
 * lookup too); the probe row is the in-process client.
 */
import { createLab, type Lab } from '../test/lab/lab.js';
import { labMissing, sidecarMissing } from '../test/lab/prereqs.js';
import { startSidecar, type Sidecar } from '../test/lab/sidecar.js';
import { REVERSE_ZONE } from '../test/lab/fixtures.js';
import { waitFor } from '../test/lab/wait.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { summarize, type LatencySummary } from './latency-stats.js';

const WARM_N = envNumber('BENCH_COLD_SAMPLES', 20);
const COLD_N = envNumber('BENCH_COLD_RESTARTS', 5);

const missing = labMissing() ?? sidecarMissing();
if (missing) {
  console.error(`cold-lookup: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

type Method = 'sidecar (probe)' | 'sidecar (kdig process)' | 'avahi-resolve -4 -n';
const METHODS: readonly Method[] = ['sidecar (probe)', 'sidecar (kdig process)', 'avahi-resolve -4 -n'];

/** One lookup of `name`, ms, measured inside the namespace; throws when it does not resolve. */
async function lookup(lab: Lab, sidecar: Sidecar, method: Method, name: string, ip: string): Promise<number> {
  switch (method) {
    case 'sidecar (probe)': {
      const r = await lab.dns('router', { server: '127.0.0.1', port: sidecar.dnsPort, name, type: 'A', timeoutMs: 5000 });
      if (!r.ok || r.msg.answers[0]?.data !== ip) throw new Error(`${method} ${name}: ${JSON.stringify(r)}`);
      return r.ms;
    }
    case 'sidecar (kdig process)':
    case 'avahi-resolve -4 -n': {
      // bash's EPOCHREALTIME: no fork for the clock, so only the lookup process is timed.
      const cmd = method === 'avahi-resolve -4 -n' ? `avahi-resolve -4 -n ${name}` : `kdig @127.0.0.1 -p ${sidecar.dnsPort} +short +retry=0 +timeout=5 ${name} A`;
      const r = await lab.exec('router', ['bash', '-c', `s=$EPOCHREALTIME; out=$(${cmd}); e=$EPOCHREALTIME; echo "$out"; echo "T $s $e"`], {
        env: { DBUS_SYSTEM_BUS_ADDRESS: lab.routerBus },
      });
      const t = /T ([\d.]+) ([\d.]+)/.exec(r.stdout);
      if (!r.stdout.includes(ip) || !t?.[1] || !t[2]) throw new Error(`${method} ${name}: ${r.stdout} ${r.stderr}`);
      return (Number(t[2]) - Number(t[1])) * 1000;
    }
    default: {
      const never: never = method;
      return never;
    }
  }
}

const lab = await createLab();
try {
  const sidecar = await startSidecar(lab, { config: { log: { level: 'warn' } } });
  await lab.startUnbound({ forwardZones: ['local.', REVERSE_ZONE], forwardTo: '127.0.0.1@5335' });
  // One fresh name per method per sample, all published up front (each avahi-publish probes ~1 s).
  const total = (WARM_N + COLD_N) * METHODS.length;
  if (total > 150) throw new Error('cold-lookup: too many samples for the 10.77.0.100-250 address range');
  const names = Array.from({ length: total }, (_, i) => ({ name: `cold-${i}.local`, ip: `10.77.0.${100 + i}` }));
  for (let i = 0; i < names.length; i += 30) await Promise.all(names.slice(i, i + 30).map((n) => lab.publishAddress(n.name, n.ip)));
  let next = 0;
  const fresh = (): { name: string; ip: string } => names[next++] ?? { name: '', ip: '' };
  // Warm-up on a name that is not measured: the first lookup pays for JIT and the D-Bus connection.
  await lookup(lab, sidecar, 'sidecar (probe)', lab.lanHostName, lab.lanIp);

  const samples = { warm: new Map<Method, number[]>(), cold: new Map<Method, number[]>() };
  for (const m of METHODS) {
    samples.warm.set(m, []);
    samples.cold.set(m, []);
  }
  for (let i = 0; i < WARM_N; i++) {
    for (const m of METHODS) {
      const n = fresh();
      samples.warm.get(m)?.push(await lookup(lab, sidecar, m, n.name, n.ip));
    }
  }
  for (let i = 0; i < COLD_N; i++) {
    for (const m of METHODS) {
      const n = fresh();
      await lab.stopRouterAvahi('SIGTERM');
      await lab.startRouterAvahi();
      await waitFor('the sidecar to see Avahi again', async () => {
        const r = await lab.http('router', `http://127.0.0.1:${sidecar.metricsPort}/readyz`, 500);
        return r.ok && r.status === 200;
      });
      samples.cold.get(m)?.push(await lookup(lab, sidecar, m, n.name, n.ip));
    }
  }

  const rows: (string | number)[][] = [];
  const result: Record<string, Record<string, LatencySummary>> = { warm: {}, cold: {} };
  for (const phase of ['warm', 'cold'] as const) {
    const anchor = summarize(samples[phase].get('avahi-resolve -4 -n') ?? []);
    for (const m of METHODS) {
      const s = summarize(samples[phase].get(m) ?? []);
      const bucket = result[phase];
      if (bucket) bucket[m] = s;
      rows.push([`avahi ${phase}`, m, s.n, s.p50, s.p90, s.max, s.p50 / anchor.p50]);
    }
  }
  printTable('cold-lookup: A of a published name never asked before, router namespace', ['avahi cache', 'client', 'n', 'p50 ms', 'p90 ms', 'max ms', 'p50 / avahi-resolve'], rows);
  const p50 = (phase: 'warm' | 'cold', m: Method): number => result[phase]?.[m]?.p50 ?? Number.NaN;
  const file = writeResults(
    'cold-lookup',
    { settings: { warmSamples: WARM_N, coldSamples: COLD_N }, ...result },
    {
      'warm sidecar p50 ms': p50('warm', 'sidecar (probe)'),
      'warm sidecar kdig p50 ms': p50('warm', 'sidecar (kdig process)'),
      'warm avahi-resolve p50 ms': p50('warm', 'avahi-resolve -4 -n'),
      'cold sidecar p50 ms': p50('cold', 'sidecar (probe)'),
      'cold avahi-resolve p50 ms': p50('cold', 'avahi-resolve -4 -n'),
    },
  );
  console.log(`wrote ${file}`);
} finally {
  await lab.teardown();
}
