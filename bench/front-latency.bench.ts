/**
 * Latency the DNS front adds: the same LAN client, the same Unbound, asked through the front
 * (10.77.0.1:53 → PROXYv2 → 127.0.0.1@5301) or directly (10.77.0.1:5300, the anchor), one query at
 * a time, the two paths alternating sample by sample so drift hits both. Timed inside the LAN
 * namespace by the lab's probe (no process start-up in the numbers). Three kinds of answer:
 *   unlisted, cached — one name Unbound has cached: the front's relay cost alone;
 *   unlisted, fresh  — a new name per sample: Unbound recurses to the authority on both paths;
 *   listed, fresh    — a new listed name per sample: the front also waits for the kernel ACK of
 *                      the new address (the anchor has nothing to insert).
 * Targets: unlisted +0.3 ms at p50 and +1 ms at p99; listed with new addresses p99 ≤ 5 ms added.
 *
 * A third path is the floor for any relay written in Node on this machine: the bare UDP relay of
 * front-setup.ts on 10.77.0.1:5399 in front of the same Unbound port as the anchor. Its added
 * latency is the cost of the extra hop itself — two more process wake-ups per query; the front's
 * own work is what it adds beyond that.
 *
 * Steady state, as a router that has been up for a while has it: before the rows above, dnsperf
 * sends BENCH_WARMUP_S seconds of cached queries (unlisted and listed) through each path, so V8
 * has compiled the front's and the bare relay's hot paths. The first row, measured before that,
 * is the daemon just started (its hot path still interpreted): reported, not judged. The steal
 * column is the CPU time the hypervisor gave to other guests during the row (cpu-steal.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFrontLab, DIRECT, FRONT, type FrontLab } from '../test/lab/front-lab.js';
import { sleep } from '../test/lab/wait.js';
import { printTable, writeResults } from './bench-report.js';
import { summarize, type LatencySummary } from './latency-stats.js';
import { cpuTicks, stealShare } from './cpu-steal.js';
import { runDnsperf } from './dnsperf-run.js';
import { argNumber, BARE, requireFrontAnswers, requireFrontLab, frontOverrides, startBareRelay } from './front-setup.js';

requireFrontLab('front-latency', { dnsperf: 'dnsperf' });
const SAMPLES = argNumber('samples', 'BENCH_SAMPLES', 500);
const GAP_MS = argNumber('gap', 'BENCH_GAP_MS', 5);
const WARMUP_S = argNumber('warmup', 'BENCH_WARMUP_S', 3);
const KINDS = ['unlisted, cached, just started', 'unlisted, cached', 'unlisted, fresh', 'listed, fresh'] as const;
type Kind = (typeof KINDS)[number];

function nameFor(kind: Kind, via: string, i: number, id: string): string {
  switch (kind) {
    case 'unlisted, cached, just started':
    case 'unlisted, cached':
      return `hot-${id}.unlisted.example`;
    case 'unlisted, fresh':
      return `${via}${i}-${id}.unlisted.example`;
    case 'listed, fresh':
      return `${via}${i}-${id}.listed.example`;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

interface Row {
  kind: Kind;
  front: LatencySummary;
  direct: LatencySummary;
  bare: LatencySummary;
  addedP50: number;
  addedP99: number;
  bareAddedP50: number;
  bareAddedP99: number;
  failures: number;
  /** Share of CPU time stolen by the hypervisor while the row was measured. */
  steal: number;
}

async function measure(fl: FrontLab, kind: Kind, id: string): Promise<Row> {
  const samples = { front: [] as number[], direct: [] as number[], bare: [] as number[] };
  let failures = 0;
  const ask = (via: 'front' | 'direct' | 'bare', name: string) => (via === 'bare' ? fl.lab.dns('lan', { ...BARE, timeoutMs: 2000, name, type: 'A' }) : fl.ask(via, { name, type: 'A' }));
  for (const via of ['front', 'direct', 'bare'] as const) await ask(via, nameFor('unlisted, cached', via, 0, id)); // warm
  const ticks = cpuTicks();
  const orders = [
    ['front', 'direct', 'bare'],
    ['direct', 'bare', 'front'],
    ['bare', 'front', 'direct'],
  ] as const;
  for (let i = 0; i < SAMPLES; i++) {
    for (const via of orders[i % 3] ?? orders[0]) {
      const r = await ask(via, nameFor(kind, via, i, id));
      if (r.ok && r.msg.rcode === 'NOERROR') samples[via].push(r.ms);
      else failures++;
      await sleep(GAP_MS);
    }
  }
  const front = summarize(samples.front);
  const direct = summarize(samples.direct);
  const bare = summarize(samples.bare);
  const steal = stealShare(ticks, cpuTicks());
  return { kind, front, direct, bare, addedP50: front.p50 - direct.p50, addedP99: front.p99 - direct.p99, bareAddedP50: bare.p50 - direct.p50, bareAddedP99: bare.p99 - direct.p99, failures, steal };
}

/** BENCH_WARMUP_S of dnsperf through each path: the hot unlisted name and listed names already learned. */
async function warmUp(fl: FrontLab, id: string): Promise<void> {
  const names = [nameFor('unlisted, cached', 'front', 0, id), ...Array.from({ length: 20 }, (_, i) => `warm${i}-${id}.listed.example`)];
  for (const name of names) for (const via of ['front', 'direct'] as const) await fl.ask(via, { name, type: 'A' });
  const dataFile = join(fl.lab.dir, 'lan', 'warm.txt');
  writeFileSync(dataFile, names.map((n) => `${n} A\n`).join(''));
  for (const target of [FRONT, DIRECT, BARE]) await runDnsperf(fl.lab.lan, { server: target.server, port: target.port, dataFile, seconds: WARMUP_S, outstanding: 20 });
}

const fl = await createFrontLab({ logLevel: 'warn', front: frontOverrides() });
await requireFrontAnswers('front-latency', fl);
const rows: Row[] = [];
let relay: ChildProcess | undefined;
try {
  relay = await startBareRelay(fl);
  const id = Date.now().toString(36);
  for (const kind of KINDS) {
    if (kind === 'unlisted, cached') await warmUp(fl, id);
    rows.push(await measure(fl, kind, id));
    console.log(`${kind}: done`);
  }
} finally {
  relay?.kill();
  await fl.teardown();
}

printTable(
  `front-latency: ${SAMPLES} samples per path and kind, ${GAP_MS} ms apart, alternating; ${WARMUP_S} s of dnsperf per path after the first row (2-core shared machine: see loadavg and steal)`,
  ['answer', 'direct p50', 'direct p99', 'front p50', 'front p99', 'added p50', 'added p99', 'front/direct p50', 'bare relay added p50', 'bare relay added p99', 'failures', 'steal %'],
  rows.map((r) => [r.kind, r.direct.p50, r.direct.p99, r.front.p50, r.front.p99, r.addedP50, r.addedP99, r.front.p50 / r.direct.p50, r.bareAddedP50, r.bareAddedP99, r.failures, r.steal * 100]),
);
const row = (k: Kind): Row | undefined => rows.find((r) => r.kind === k);
const unlisted = [row('unlisted, cached'), row('unlisted, fresh')];
const listed = row('listed, fresh');
const pass = unlisted.every((r) => r !== undefined && r.addedP50 <= 0.3 && r.addedP99 <= 1) && listed !== undefined && listed.addedP99 <= 5 && rows.every((r) => r.failures === 0);
console.log(`targets: unlisted added ≤ 0.3 ms p50 / ≤ 1 ms p99, listed fresh added p99 ≤ 5 ms: ${pass ? 'PASS' : 'FAIL'}`);
writeResults(
  'front-latency',
  { samples: SAMPLES, gapMs: GAP_MS, warmupS: WARMUP_S, rows, pass },
  {
    samples: SAMPLES,
    'just started added p50 ms': row('unlisted, cached, just started')?.addedP50 ?? Number.NaN,
    'cached added p50 ms': row('unlisted, cached')?.addedP50 ?? Number.NaN,
    'cached added p99 ms': row('unlisted, cached')?.addedP99 ?? Number.NaN,
    'unlisted fresh added p50 ms': row('unlisted, fresh')?.addedP50 ?? Number.NaN,
    'unlisted fresh added p99 ms': row('unlisted, fresh')?.addedP99 ?? Number.NaN,
    'listed fresh added p50 ms': listed?.addedP50 ?? Number.NaN,
    'listed fresh added p99 ms': listed?.addedP99 ?? Number.NaN,
    'bare relay cached added p50 ms': row('unlisted, cached')?.bareAddedP50 ?? Number.NaN,
    'bare relay cached added p99 ms': row('unlisted, cached')?.bareAddedP99 ?? Number.NaN,
    'max steal %': Math.max(...rows.map((r) => r.steal * 100)),
    pass,
  },
);
