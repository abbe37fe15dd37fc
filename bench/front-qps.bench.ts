/**
 * Queries per second through the DNS front vs Unbound directly, with dnsperf in the LAN namespace
 * (`-c 1 -T 1 -q N -b 1024`, no rate cap) against 10.77.0.1:53 (front → PROXYv2 → Unbound)
 * and 10.77.0.1:5300 (Unbound alone, the anchor) — the same Unbound, the same cached answers:
 *   unlisted — 100 names Unbound has cached, nothing to learn;
 *   listed   — 100 listed names Unbound has cached whose addresses are already in the learned
 *              set with time left (the steady state: no kernel work per answer).
 * Rounds alternate the two paths. The front's RSS (VmRSS, and VmHWM: its peak) is read from /proc
 * before and after. Target: front ≥ 0.5 × direct. On a 2-core machine dnsperf, the sidecar and
 * Unbound share two cores on the front path (Unbound alone has one to itself on the direct path),
 * so the ratio is a floor; the CPU columns show who was busy.
 *
 * A third path is the floor for any relay written in Node on this machine: the bare relay of
 * front-setup.ts (no PROXYv2, no parsing, no learning, no batching) before Unbound's plain port.
 * A fourth is dnsdist (front-setup.ts `startDnsdist`), a C++ relay with PROXYv2 before the same
 * Unbound port as the front: what one extra hop costs a well-built relay on this machine.
 * The steal column is the CPU time the hypervisor gave to other guests during each run: a run
 * with steal measured a neighbour too (cpu-steal.ts).
 *
 * Two windows (queries outstanding, BENCH_WINDOWS): 100, dnsperf's default, and 300. A relay
 * answers later than Unbound alone (one more hop, and batches), so with a fixed window it can sit
 * idle waiting for dnsperf's next query while it still has CPU to spare (Little's law: qps =
 * window / latency); the larger window measures what each path can serve. dnsperf gets 1 MiB
 * socket buffers (-b) so its own receive queue does not drop answers at 300.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFrontLab, DIRECT, FRONT } from '../test/lab/front-lab.js';
import { printTable, writeResults } from './bench-report.js';
import { runDnsperf, type DnsperfResult } from './dnsperf-run.js';
import { argNumber, BARE, DNSDIST, processMemoryMB, requireFrontAnswers, requireFrontLab, frontOverrides, startBareRelay, startDnsdist } from './front-setup.js';

requireFrontLab('front-qps', { dnsperf: 'dnsperf' });
const SECONDS = argNumber('seconds', 'BENCH_SECONDS', 10);
const ROUNDS = argNumber('rounds', 'BENCH_ROUNDS', 2);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '100,300')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const DNSPERF_BUFFER_KB = 1024;
const TARGET = 0.5;
const SETS = ['unlisted', 'listed'] as const;

type Path = 'front' | 'direct' | 'bare' | 'dnsdist';

interface Row {
  window: number;
  set: string;
  path: Path;
  qps: number;
  avgLatencyMs: number;
  lost: number;
  serverCpu: number;
  clientCpu: number;
  rcodes: string;
  /** Mean share of CPU time stolen by the hypervisor over the runs. */
  steal: number;
}

const fl = await createFrontLab({ logLevel: 'warn', front: frontOverrides() });
await requireFrontAnswers('front-qps', fl);
let relay: ChildProcess | undefined;
let dnsdist: ChildProcess | undefined;
const rows: Row[] = [];
let memory: { before: ReturnType<typeof processMemoryMB>; after: ReturnType<typeof processMemoryMB> } | undefined;
try {
  const bare = await startBareRelay(fl);
  relay = bare;
  dnsdist = await startDnsdist(fl);
  if (dnsdist === undefined) console.log('front-qps: dnsdist is not installed (apt-get install dnsdist): its reference row is left out');
  const id = Date.now().toString(36);
  const files = new Map<string, string>();
  for (const set of SETS) {
    const names = Array.from({ length: 100 }, (_, i) => `q${i}-${id}.${set}.example`);
    for (const name of names) for (const via of ['front', 'direct'] as const) await fl.ask(via, { name, type: 'A' }); // cache (and learn) them
    const file = join(fl.lab.dir, 'lan', `${set}.txt`);
    writeFileSync(file, names.map((n) => `${n} A\n`).join(''));
    files.set(set, file);
  }
  const sidecarPid = fl.sidecar.child.pid;
  const before = processMemoryMB(sidecarPid);
  const paths = [
    { path: 'direct' as const, target: DIRECT, pid: () => fl.unboundPid(), behind: (): number | undefined => undefined },
    { path: 'front' as const, target: FRONT, pid: () => sidecarPid, behind: () => fl.unboundPid() },
    { path: 'bare' as const, target: BARE, pid: () => bare.pid, behind: () => fl.unboundPid() },
    ...(dnsdist === undefined ? [] : [{ path: 'dnsdist' as const, target: DNSDIST, pid: () => dnsdist?.pid, behind: () => fl.unboundPid() }]),
  ];
  for (const window of WINDOWS)
    for (const set of SETS) {
      const dataFile = files.get(set) ?? '';
      const run = { dataFile, outstanding: window, bufferKB: DNSPERF_BUFFER_KB };
      for (const p of paths) await runDnsperf(fl.lab.lan, { server: p.target.server, port: p.target.port, seconds: 2, ...run }); // warm-up (JIT)
      const runs: Record<Path, DnsperfResult[]> = { front: [], direct: [], bare: [], dnsdist: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const p of paths) {
          const r = await runDnsperf(fl.lab.lan, { server: p.target.server, port: p.target.port, seconds: SECONDS, ...run }, p.pid(), p.behind());
          runs[p.path].push(r);
          console.log(
            `-q ${window} ${set} round ${round + 1}/${ROUNDS} ${p.path}: ${r.qps.toFixed(0)} qps, lost ${r.lost}, server cpu ${r.serverCpu?.toFixed(2) ?? '?'}${r.behindCpu === undefined ? '' : `, Unbound behind it ${r.behindCpu.toFixed(2)}`}, steal ${(r.steal * 100).toFixed(1)} % (${r.rcodes})`,
          );
        }
      }
      const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      for (const path of ['direct', 'front', 'bare', 'dnsdist'] as const) {
        const rs = runs[path];
        if (rs.length === 0) continue;
        rows.push({
          window,
          set,
          path,
          qps: mean(rs.map((r) => r.qps)),
          avgLatencyMs: mean(rs.map((r) => r.avgLatencyMs)),
          lost: rs.reduce((a, r) => a + r.lost, 0),
          serverCpu: mean(rs.map((r) => r.serverCpu ?? Number.NaN)),
          clientCpu: mean(rs.map((r) => r.clientCpu ?? Number.NaN)),
          rcodes: rs.at(-1)?.rcodes ?? '',
          steal: mean(rs.map((r) => r.steal)),
        });
      }
    }
  memory = { before, after: processMemoryMB(sidecarPid) };
} finally {
  relay?.kill();
  dnsdist?.kill();
  await fl.teardown();
}

const PATH_LABEL: Record<Path, string> = { direct: 'Unbound directly', front: 'front (sidecar CPU)', bare: 'bare Node relay (its CPU)', dnsdist: 'dnsdist + PROXYv2 (its CPU)' };
const qps = (window: number, set: string, path: string): number => rows.find((r) => r.window === window && r.set === set && r.path === path)?.qps ?? Number.NaN;
printTable(
  `front-qps: ${ROUNDS} × ${SECONDS} s per window, path and set, dnsperf -c 1 -T 1 -b ${DNSPERF_BUFFER_KB} from the LAN namespace (2-core shared machine: see loadavg)`,
  ['-q', 'answers', 'path', 'qps', 'avg latency ms', 'lost', 'server CPU (cores)', 'dnsperf CPU (cores)', 'steal %', 'ratio to direct'],
  rows.map((r) => [r.window, r.set, PATH_LABEL[r.path], r.qps, r.avgLatencyMs, r.lost, r.serverCpu, r.clientCpu, r.steal * 100, r.qps / qps(r.window, r.set, 'direct')]),
);
console.log(`front RSS: ${memory?.before.rss.toFixed(1)} MB before, ${memory?.after.rss.toFixed(1)} MB after, peak ${memory?.after.peak.toFixed(1)} MB`);
const ratio = (window: number, set: string): number => qps(window, set, 'front') / qps(window, set, 'direct');
const pass = WINDOWS.every((w) => SETS.every((s) => ratio(w, s) >= TARGET));
for (const w of WINDOWS) console.log(`-q ${w}: ratios ${SETS.map((s) => `${s} ${ratio(w, s).toFixed(2)}`).join(', ')} (target ≥ ${TARGET})`);
console.log(`every window and set ≥ ${TARGET}: ${pass ? 'PASS' : 'FAIL'}`);
const perWindow = Object.fromEntries(
  WINDOWS.flatMap((w) => [
    [`-q ${w}: direct qps (unlisted)`, qps(w, 'unlisted', 'direct')],
    [`-q ${w}: front qps (unlisted)`, qps(w, 'unlisted', 'front')],
    [`-q ${w}: ratio unlisted`, ratio(w, 'unlisted')],
    [`-q ${w}: front qps (listed)`, qps(w, 'listed', 'front')],
    [`-q ${w}: ratio listed`, ratio(w, 'listed')],
    [`-q ${w}: bare relay ratio unlisted`, qps(w, 'unlisted', 'bare') / qps(w, 'unlisted', 'direct')],
    [`-q ${w}: dnsdist ratio unlisted`, qps(w, 'unlisted', 'dnsdist') / qps(w, 'unlisted', 'direct')],
  ]),
);
writeResults(
  'front-qps',
  { seconds: SECONDS, rounds: ROUNDS, windows: WINDOWS, dnsperfBufferKB: DNSPERF_BUFFER_KB, rows, memory, pass },
  {
    ...perWindow,
    'front RSS MB': memory?.after.rss ?? Number.NaN,
    'front peak RSS MB': memory?.after.peak ?? Number.NaN,
    'max steal %': Math.max(...rows.map((r) => r.steal * 100)),
    pass,
  },
);
