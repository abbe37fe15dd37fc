/**
 * First-packet race: a LAN client asks for a fresh listed name and connects the instant it has
 * the answer; nftables in the router counts whether that first packet found the address in the
 * learned set. Two paths in the same run, same Unbound, same sidecar (test/lab/front-lab.ts):
 *   front  — the client asks the sidecar's front (10.77.0.1:53), which inserts before it answers;
 *   dnstap — the anchor: the client asks Unbound directly (10.77.0.1:5300) and the learner gets
 *            the answer from Unbound's dnstap stream (dnstap/dtstream.c wakes its writer on a 1 s
 *            timer or at 32 queued messages, so frames arrive up to a second late).
 * Every name is new (a new address from the fixture authority), asked at a fixed rate without
 * waiting for answers, a quarter of them through a CNAME chain into an unlisted name.
 * Target: the front's share of first packets that beat insertion is 0.
 *
 *   npx tsx bench/front-race.bench.ts --names 2000   (default 2000 per path and rate, as specified)
 *   npx tsx bench/front-race.bench.ts --only dnstap  (the anchor alone)
 */
import { createFrontLab, type FirstPackets, type FrontLab } from '../test/lab/front-lab.js';
import { sleep } from '../test/lab/wait.js';
import type { DnsResult } from '../test/lab/lab.js';
import { printTable, writeResults } from './bench-report.js';
import { summarize } from './latency-stats.js';
import { argNumber, requireFrontAnswers, requireFrontLab } from './front-setup.js';

requireFrontLab('front-race');
const NAMES = argNumber('names', 'BENCH_NAMES', 2000);
const RATES = [10, 50] as const;
const ALL_PATHS = ['front', 'dnstap'] as const;
type Path = (typeof ALL_PATHS)[number];
// `--only dnstap` measures the anchor alone (e.g. before a front exists); the default is both.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const PATHS: readonly Path[] = ALL_PATHS.filter((p) => only === undefined || p === only);

interface Run {
  readonly path: Path;
  readonly rate: number;
  readonly names: number;
  readonly answered: number;
  /** Outcomes other than NOERROR: rcodes, and `timeout` for no answer within 5 s. */
  readonly otherOutcomes: Record<string, number>;
  /** The front's `insert_deadline_misses_total` over the run (fail-open answers: a likely beat). */
  readonly deadlineMisses: number;
  readonly connections: number;
  readonly inSet: number;
  readonly beat: number;
  readonly beatShare: number;
  readonly answerMs: ReturnType<typeof summarize>;
  readonly connectAfterReplyMs: ReturnType<typeof summarize>;
}

async function deadlineMisses(fl: FrontLab): Promise<number> {
  const m = await fl.lab.http('router', `http://127.0.0.1:${fl.sidecar.metricsPort}/metrics`, 3000);
  if (!m.ok) return Number.NaN;
  return m.body
    .split('\n')
    .filter((l) => l.startsWith('unbound_sidecar_dns_front_insert_deadline_misses_total'))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
}

async function race(fl: FrontLab, path: Path, rate: number, tag: string): Promise<Run> {
  const from: FirstPackets = await fl.firstPackets();
  const misses0 = await deadlineMisses(fl);
  const pending: Promise<DnsResult>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < NAMES; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const name = i % 4 === 3 ? `${tag}${i}.alias.listed.example` : `${tag}${i}.listed.example`;
    pending.push(fl.ask(path === 'front' ? 'front' : 'direct', { name, type: 'A', connectPort: 80, timeoutMs: 5000 }));
  }
  const results = await Promise.all(pending);
  // Every SYN was answered by the sink's RST before its promise resolved: the counters are final.
  const now = await fl.firstPackets();
  const ok = results.flatMap((r) => (r.ok && r.msg.rcode === 'NOERROR' ? [r] : []));
  const otherOutcomes: Record<string, number> = {};
  for (const r of results) {
    const k = r.ok ? r.msg.rcode : 'timeout';
    if (k !== 'NOERROR') otherOutcomes[k] = (otherOutcomes[k] ?? 0) + 1;
  }
  const connects = ok.flatMap((r) => r.connects ?? []);
  const inSet = now.inSet - from.inSet;
  const beat = now.notInSet - from.notInSet;
  return {
    path,
    rate,
    names: NAMES,
    answered: ok.length,
    otherOutcomes,
    deadlineMisses: (await deadlineMisses(fl)) - misses0,
    connections: connects.length,
    inSet,
    beat,
    beatShare: beat / Math.max(1, inSet + beat),
    answerMs: summarize(ok.map((r) => r.ms)),
    connectAfterReplyMs: summarize(connects.map((c) => c.afterReplyMs)),
  };
}

const fl = await createFrontLab({ dnstap: true, logLevel: 'warn' });
if (PATHS.includes('front')) await requireFrontAnswers('front-race', fl);
const runs: Run[] = [];
try {
  const id = Date.now().toString(36);
  for (const rate of RATES) {
    for (const path of PATHS) {
      const r = await race(fl, path, rate, `${path[0]}${rate}x${id}n`);
      // Both paths need the daemon (the dnstap path's learner is in it too): a run it did not survive means nothing.
      const c = fl.sidecar.child;
      if (c.exitCode !== null || c.signalCode !== null)
        throw new Error(`front-race: the sidecar died during ${path} at ${rate}/s (exit ${c.exitCode}, signal ${c.signalCode}); see dmesg for the OOM killer`);
      runs.push(r);
      console.log(
        `${path} at ${rate}/s: ${r.beat} of ${r.inSet + r.beat} first packets beat insertion (${(r.beatShare * 100).toFixed(2)} %), ${r.answered}/${r.names} answered ${JSON.stringify(r.otherOutcomes)}, front deadline misses ${r.deadlineMisses}`,
      );
    }
  }
} finally {
  await fl.teardown();
}

const share = (p: Path, rate: number): number => runs.find((r) => r.path === p && r.rate === rate)?.beatShare ?? Number.NaN;
printTable(
  `front-race: ${NAMES} fresh names per path and rate, client connects at once (2-core shared machine: see loadavg)`,
  ['path', 'rate /s', 'answered', 'first packets', 'beat insertion', 'share beat %', 'front deadline misses', 'answer p50 ms', 'answer p99 ms', 'SYN after reply p50 ms'],
  runs.map((r) => [r.path, r.rate, `${r.answered}/${r.names}`, r.inSet + r.beat, r.beat, r.beatShare * 100, r.deadlineMisses, r.answerMs.p50, r.answerMs.p99, r.connectAfterReplyMs.p50]),
);
for (const rate of RATES) console.log(`at ${rate}/s: front beat share ${(share('front', rate) * 100).toFixed(2)} % vs dnstap ${(share('dnstap', rate) * 100).toFixed(2)} % (target for the front: 0)`);
const pass = PATHS.includes('front') && RATES.every((rate) => share('front', rate) === 0) && runs.every((r) => r.answered === r.names);
console.log(pass ? 'PASS' : 'FAIL');
writeResults(
  'front-race',
  { names: NAMES, rates: RATES, paths: PATHS, runs, pass },
  {
    names: NAMES,
    paths: PATHS.join('+'),
    'front beat % 10/s': share('front', 10) * 100,
    'dnstap beat % 10/s': share('dnstap', 10) * 100,
    'front beat % 50/s': share('front', 50) * 100,
    'dnstap beat % 50/s': share('dnstap', 50) * 100,
    pass,
  },
);
