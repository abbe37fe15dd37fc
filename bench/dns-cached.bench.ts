/**
 * Cached answers: dnsperf against the sidecar answering a static record (from memory, no mDNS)
 * vs Unbound answering the same name from `local-data`, both single-threaded, in the same run and
 * the same namespace. Target: sidecar ≥ 0.5 × Unbound's qps.
 *
 * dnsperf runs one client, one thread, with `BENCH_OUTSTANDING` (default 100) queries in flight
 * and no rate cap, so each server is driven to saturation; the table shows the server CPU (cores)
 * to prove it (≈ 1.0 means CPU-bound; much less means the load generator was the limit).
 * Rounds alternate Unbound and sidecar so drift (thermal, noisy neighbours) hits both.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab } from '../test/lab/lab.js';
import { labMissing, sidecarMissing } from '../test/lab/prereqs.js';
import { startSidecar } from '../test/lab/sidecar.js';
import { REVERSE_ZONE } from '../test/lab/fixtures.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { availableParallelism } from 'node:os';
import { pinProcess, runDnsperf, type DnsperfResult } from './dnsperf-run.js';

const SECONDS = envNumber('BENCH_SECONDS', 10);
const ROUNDS = envNumber('BENCH_ROUNDS', 2);
const OUTSTANDING = envNumber('BENCH_OUTSTANDING', 100);
const TARGET = 0.5;
// With ≥ 2 CPUs, dnsperf gets CPU 0 and the server CPU 1 (BENCH_PIN=0 turns this off).
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2;
const RECORD = 'bench.local. A 10.0.0.1';

const missing = labMissing({ dnsperf: 'dnsperf' }) ?? sidecarMissing();
if (missing) {
  console.error(`dns-cached: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

const lab = await createLab();
try {
  const sidecar = await startSidecar(lab, { config: { mdns: { policy: { staticRecords: [RECORD] } }, log: { level: 'warn' } } });
  const unbound = await lab.startUnbound({ forwardZones: ['local.', REVERSE_ZONE], forwardTo: '127.0.0.1@5335', localData: [RECORD], threads: 1 });
  const dataFile = join(lab.dir, 'router', 'cached.txt');
  writeFileSync(dataFile, 'bench.local A\n');

  // Sanity: both answer the record, and the sidecar answers it without asking Avahi.
  for (const port of [unbound.port, sidecar.dnsPort]) {
    const r = await lab.dns('router', { server: '127.0.0.1', port, name: 'bench.local', type: 'A' });
    if (!r.ok || r.msg.answers[0]?.data !== '10.0.0.1') throw new Error(`port ${port} does not answer bench.local: ${JSON.stringify(r)}`);
  }
  const targets = [
    { name: 'unbound', port: unbound.port, pid: (): number | undefined => unbound.pid },
    { name: 'sidecar', port: sidecar.dnsPort, pid: (): number | undefined => sidecar.child.pid },
  ] as const;
  if (PIN) for (const t of targets) await pinProcess(lab.router, t.pid(), 1);
  const cpu = PIN ? { cpu: 0 } : {};
  // Warm-up: JIT for the sidecar, caches for both.
  for (const t of targets) await runDnsperf(lab.router, { port: t.port, dataFile, seconds: 2, outstanding: OUTSTANDING, ...cpu });

  const runs: Record<'unbound' | 'sidecar', DnsperfResult[]> = { unbound: [], sidecar: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const r = await runDnsperf(lab.router, { port: t.port, dataFile, seconds: SECONDS, outstanding: OUTSTANDING, ...cpu }, t.pid());
      runs[t.name].push(r);
      console.log(
        `round ${round + 1}/${ROUNDS} ${t.name}: ${r.qps.toFixed(0)} qps, ${r.avgLatencyMs.toFixed(3)} ms avg, lost ${r.lost}, server cpu ${r.serverCpu?.toFixed(2) ?? '?'}, dnsperf cpu ${r.clientCpu?.toFixed(2) ?? '?'} (${r.rcodes})`,
      );
    }
  }
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const agg = (rs: readonly DnsperfResult[]) => ({
    qps: mean(rs.map((r) => r.qps)),
    avgLatencyMs: mean(rs.map((r) => r.avgLatencyMs)),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    serverCpu: mean(rs.map((r) => r.serverCpu ?? Number.NaN)),
    clientCpu: mean(rs.map((r) => r.clientCpu ?? Number.NaN)),
  });
  const u = agg(runs.unbound);
  const s = agg(runs.sidecar);
  const ratio = s.qps / u.qps;
  printTable(
    `dns-cached: ${ROUNDS} × ${SECONDS} s each, dnsperf -c 1 -T 1 -q ${OUTSTANDING}, one static A record${PIN ? ', dnsperf on CPU 0, server on CPU 1' : ''}`,
    ['server', 'qps', 'avg latency ms', 'lost', 'server CPU (cores)', 'dnsperf CPU (cores)', 'ratio to Unbound'],
    [
      ['unbound (local-data, 1 thread)', u.qps, u.avgLatencyMs, u.lost, u.serverCpu, u.clientCpu, 1],
      ['unbound-sidecar (staticRecords)', s.qps, s.avgLatencyMs, s.lost, s.serverCpu, s.clientCpu, ratio],
    ],
  );
  const pass = ratio >= TARGET;
  console.log(`\nratio ${ratio.toFixed(2)} (target ≥ ${TARGET}): ${pass ? 'PASS' : 'FAIL'}`);
  const file = writeResults(
    'dns-cached',
    {
      settings: { seconds: SECONDS, rounds: ROUNDS, outstanding: OUTSTANDING, record: RECORD, pinned: PIN },
      unbound: { ...u, runs: runs.unbound },
      sidecar: { ...s, runs: runs.sidecar },
      ratio,
      target: TARGET,
      pass,
    },
    { 'unbound qps': u.qps, 'sidecar qps': s.qps, ratio, 'unbound cpu': u.serverCpu, 'sidecar cpu': s.serverCpu, 'dnsperf cpu (vs unbound)': u.clientCpu, pass },
  );
  console.log(`wrote ${file}`);
} finally {
  await lab.teardown();
}
