/**
 * Cold lookup, three ways, on the SAME name per sample, in the same run: an A query for a published
 * name nobody has asked before
 * - to a sidecar with `mdns.backend: native` (its own one-shot mDNS query on lan0),
 * - to a sidecar with `mdns.backend: avahi` (a D-Bus record browse in the router's avahi-daemon),
 * - with `avahi-resolve -4 -n` (the anchor: what a shell script on the router would do).
 * Both sidecars run side by side in the router namespace (5335/9335 avahi, 5336/9336 native).
 *
 * Two situations, as in cold-lookup.bench.ts:
 * - "avahi warm": the router's Avahi has already heard the LAN host announce the name (the usual
 *   LAN case). Native has no such cache: it always goes to the wire.
 * - "avahi cold": the router's avahi-daemon is restarted before each Avahi-backed lookup, so it too
 *   must ask the wire. Native is measured on the same name, once per sample.
 * avahi-resolve is a process per lookup; the "kdig process" row (a cached answer from the native
 * sidecar) shows what starting a DNS client process costs, for a fair reading of that row.
 */
import { createLab, type Lab } from '../test/lab/lab.js';
import { labMissing, sidecarMissing } from '../test/lab/prereqs.js';
import { startSidecar, type Sidecar } from '../test/lab/sidecar.js';
import { waitFor } from '../test/lab/wait.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { summarize, type LatencySummary } from './latency-stats.js';

const WARM_N = envNumber('BENCH_COLD_SAMPLES', 20);
const COLD_N = envNumber('BENCH_COLD_RESTARTS', 5);

const missing = labMissing() ?? sidecarMissing();
if (missing) {
  console.error(`cold-lookup-native: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

type Method = 'native backend (probe)' | 'avahi backend (probe)' | 'avahi-resolve -4 -n' | 'kdig process, cached answer';
const MEASURED: readonly Method[] = ['native backend (probe)', 'avahi backend (probe)', 'avahi-resolve -4 -n'];

async function viaSidecar(lab: Lab, sidecar: Sidecar, name: string, ip: string): Promise<number> {
  const r = await lab.dns('router', { server: '127.0.0.1', port: sidecar.dnsPort, name, type: 'A', timeoutMs: 5000 });
  if (!r.ok || r.msg.answers[0]?.data !== ip) throw new Error(`${name} @${sidecar.dnsPort}: ${JSON.stringify(r)}`);
  return r.ms;
}

/** A process per lookup, timed inside the namespace with bash's EPOCHREALTIME (no fork for the clock). */
async function viaProcess(lab: Lab, cmd: string, ip: string): Promise<number> {
  const r = await lab.exec('router', ['bash', '-c', `s=$EPOCHREALTIME; out=$(${cmd}); e=$EPOCHREALTIME; echo "$out"; echo "T $s $e"`], {
    env: { DBUS_SYSTEM_BUS_ADDRESS: lab.routerBus },
  });
  const t = /T ([\d.]+) ([\d.]+)/.exec(r.stdout);
  if (!r.stdout.includes(ip) || !t?.[1] || !t[2]) throw new Error(`${cmd}: ${r.stdout} ${r.stderr}`);
  return (Number(t[2]) - Number(t[1])) * 1000;
}

async function restartRouterAvahi(lab: Lab, avahiSidecar: Sidecar): Promise<void> {
  await lab.stopRouterAvahi('SIGTERM');
  await lab.startRouterAvahi();
  await waitFor('the avahi sidecar to see Avahi again', async () => {
    const r = await lab.http('router', `http://127.0.0.1:${avahiSidecar.metricsPort}/readyz`, 500);
    return r.ok && r.status === 200;
  });
}

const lab = await createLab();
try {
  const quiet = { log: { level: 'warn' } };
  const avahiSidecar = await startSidecar(lab, { config: { ...quiet, mdns: { backend: 'avahi' } } });
  const nativeSidecar = await startSidecar(lab, { dnsPort: 5336, metricsPort: 9336, logName: 'sidecar-native', config: { ...quiet, mdns: { backend: 'native' } } });
  const total = WARM_N + COLD_N;
  if (total > 150) throw new Error('cold-lookup-native: too many samples for the 10.77.0.100-250 address range');
  const names = Array.from({ length: total }, (_, i) => ({ name: `coldn-${i}.local`, ip: `10.77.0.${100 + i}` }));
  for (let i = 0; i < names.length; i += 30) await Promise.all(names.slice(i, i + 30).map((n) => lab.publishAddress(n.name, n.ip)));
  // Warm-up on names not measured: JIT, the D-Bus connection, the first socket sends.
  await viaSidecar(lab, avahiSidecar, lab.lanHostName, lab.lanIp);
  await viaSidecar(lab, nativeSidecar, lab.lanHostName, lab.lanIp);

  const samples = { warm: new Map<Method, number[]>(), cold: new Map<Method, number[]>() };
  const push = (phase: 'warm' | 'cold', m: Method, ms: number): void => {
    const list = samples[phase].get(m) ?? [];
    list.push(ms);
    samples[phase].set(m, list);
  };
  const kdig = `kdig @127.0.0.1 -p ${nativeSidecar.dnsPort} +short +retry=0 +timeout=5 ${lab.lanHostName} A`;

  for (let i = 0; i < WARM_N; i++) {
    const n = names[i];
    if (!n) break;
    // Rotate who goes first, so no method always meets a cache another one just filled.
    const order = [...MEASURED.slice(i % 3), ...MEASURED.slice(0, i % 3)];
    for (const m of order) {
      if (m === 'native backend (probe)') push('warm', m, await viaSidecar(lab, nativeSidecar, n.name, n.ip));
      else if (m === 'avahi backend (probe)') push('warm', m, await viaSidecar(lab, avahiSidecar, n.name, n.ip));
      else push('warm', m, await viaProcess(lab, `avahi-resolve -4 -n ${n.name}`, n.ip));
    }
    push('warm', 'kdig process, cached answer', await viaProcess(lab, kdig, lab.lanIp));
  }
  for (let i = 0; i < COLD_N; i++) {
    const n = names[WARM_N + i];
    if (!n) break;
    push('cold', 'native backend (probe)', await viaSidecar(lab, nativeSidecar, n.name, n.ip));
    await restartRouterAvahi(lab, avahiSidecar);
    push('cold', 'avahi backend (probe)', await viaSidecar(lab, avahiSidecar, n.name, n.ip));
    await restartRouterAvahi(lab, avahiSidecar);
    push('cold', 'avahi-resolve -4 -n', await viaProcess(lab, `avahi-resolve -4 -n ${n.name}`, n.ip));
  }

  const rows: (string | number)[][] = [];
  const result: Record<string, Record<string, LatencySummary>> = { warm: {}, cold: {} };
  for (const phase of ['warm', 'cold'] as const) {
    const anchor = summarize(samples[phase].get('avahi-resolve -4 -n') ?? []);
    for (const [m, list] of samples[phase]) {
      const s = summarize(list);
      const bucket = result[phase];
      if (bucket) bucket[m] = s;
      rows.push([`avahi ${phase}`, m, s.n, s.p50, s.p90, s.max, s.p50 / anchor.p50]);
    }
  }
  printTable(
    'cold-lookup-native: A of a published name never asked before (same name for each method), router namespace',
    ['avahi cache', 'method', 'n', 'p50 ms', 'p90 ms', 'max ms', 'p50 / avahi-resolve'],
    rows,
  );
  const p50 = (phase: 'warm' | 'cold', m: Method): number => result[phase]?.[m]?.p50 ?? Number.NaN;
  const file = writeResults(
    'cold-lookup-native',
    { settings: { warmSamples: WARM_N, coldSamples: COLD_N }, ...result },
    {
      'native p50 ms': p50('warm', 'native backend (probe)'),
      'avahi warm p50 ms': p50('warm', 'avahi backend (probe)'),
      'avahi-resolve warm p50 ms': p50('warm', 'avahi-resolve -4 -n'),
      'avahi cold p50 ms': p50('cold', 'avahi backend (probe)'),
      'avahi-resolve cold p50 ms': p50('cold', 'avahi-resolve -4 -n'),
      'kdig process p50 ms': p50('warm', 'kdig process, cached answer'),
    },
  );
  console.log(`wrote ${file}`);
} finally {
  await lab.teardown();
}
