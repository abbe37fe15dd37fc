/**
 * Answer → kernel set latency (target: p99 ≤ 20 ms at 10k answers/s). Drives the
 * real path — dnstap message → extractAnswers → matcher → guard → learned-sets batch → `nft -j -f -`
 * in a throw-away namespace — with every answer a NEW address (the worst case: no "unchanged"
 * short-cut). The anchor, measured in the same run, is one `nft add element` process per answer
 * (what a naive learner would do). Needs root. Both backends run in the same process: `cli` (one
 * `nft -j -f` per batch) and `netlink` (one nfnetlink batch per batch, src/lib/nft/netlink/); the
 * summary row in results/learner-latency.md is netlink's, the default. Memory: an `nft monitor`
 * listens in the namespace (as the daemon's own monitor would; without a listener the kernel
 * allocates no notifications), SUnreclaim's largest rise is sampled during each run
 * (test/helpers/kernel-memory.ts) and shown beside the process's peak RSS.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { learnConfigSchema } from '../src/learner/config.js';
import { createLearnAnswer } from '../src/learner/answer-learning.js';
import { createDnstapIngest, createLearn } from '../src/learner/dnstap-ingest.js';
import { LearnedStore } from '../src/learner/learned-store.js';
import { ListMatchers } from '../src/learner/list-matchers.js';
import { createLearnerMetrics } from '../src/learner/metrics.js';
import type { DnstapMessage } from '../src/lib/dnstap/index.js';
import { emptyRangeSet } from '../src/lib/ip-prefix/index.js';
import { createNetlinkBackend } from '../src/lib/nft/netlink/netlink-backend.js';
import { createNftBackend } from '../src/lib/nft/nft-backend.js';
import { createLearnedSets } from '../src/set-sync/learned-sets.js';
import { sampleKernelMemory, startNftListener } from '../test/helpers/kernel-memory.js';
import { createNftNetns } from '../test/lab/nft-netns.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { summarize } from './latency-stats.js';

interface Run {
  backend: string;
  rate: number;
  samples: number[];
  batches: number;
  applyMs: number;
  kernelMB: number;
  rssMB: number;
}

const logger = pino({ level: 'silent' });
const seconds = envNumber('BENCH_SECONDS', 5);

function response(i: number): Uint8Array {
  const label = `h${i}`;
  const name = [label.length, ...Buffer.from(label), 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0];
  const ip = [100, 64 + ((i >>> 16) & 63), (i >>> 8) & 255, i & 255].map((x, k) => (k === 0 ? 45 : x)); // 45.x.y.z: public, unique per i
  return new Uint8Array([0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...name, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, ...ip]);
}

async function run(backend: 'cli' | 'netlink', rate: number, ns: string, table: string): Promise<Run> {
  const registry = new Registry();
  const learnedSets = createLearnedSets({ logger, registry, backend: backend === 'cli' ? createNftBackend({ timeoutMs: 30_000 }) : createNetlinkBackend() });
  const metrics = createLearnerMetrics(registry);
  const matchers = new ListMatchers(
    [{ name: 'vpn', exclude: [], minPrefix: { ipv4: 8, ipv6: 16 }, nft: { family: 'inet', table, netns: ns, createSets: true }, learn: learnConfigSchema.parse({ set4: 'l4' }) }],
    { minTtl: 300, maxTtl: 86_400 },
  );
  matchers.setModel('vpn', { ipv4: emptyRangeSet('ipv4'), ipv6: emptyRangeSet('ipv6'), domains: ['example.com'] });
  const samples: number[] = [];
  const learn = createLearn({ learnedSets, store: new LearnedStore('/nonexistent', () => () => undefined), metrics, logger });
  const timed: typeof learn = async (list, a, name, seenAt) => {
    const o = await learn(list, a, name, seenAt);
    samples.push(performance.now() - seenAt);
    return o;
  };
  const ingest = createDnstapIngest({ learnAnswer: createLearnAnswer({ matchers, learn: timed, unavailable: () => undefined }) });
  // Warm-up: creates the set, first nft run.
  ingest({ type: 'CLIENT_RESPONSE', responseMessage: response(0) } as unknown as DnstapMessage);
  await learnedSets.flush();
  samples.length = 0;
  const total = rate * seconds;
  const sampler = await sampleKernelMemory();
  const t0 = performance.now();
  let sent = 1;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent <= due; sent++) ingest({ type: 'CLIENT_RESPONSE', responseMessage: response(sent) } as unknown as DnstapMessage);
      if (sent > total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await learnedSets.flush();
  const kernel = await sampler.stop();
  await new Promise((r) => setTimeout(r, 50));
  const text = await registry.getSingleMetricAsString('unbound_sidecar_set_sync_learned_batch_elements');
  const batches = Number(/_count (\d+)/.exec(text)?.[1] ?? 0);
  const dur = await registry.getSingleMetricAsString('unbound_sidecar_set_sync_learned_apply_duration_seconds');
  const applyMs = (Number(/_sum ([\d.e-]+)/.exec(dur)?.[1] ?? 0) / Math.max(1, batches)) * 1000;
  await learnedSets.stop();
  return { backend, rate, samples, batches, applyMs, kernelMB: kernel.peakRiseMB, rssMB: process.resourceUsage().maxRSS / 1024 };
}

async function anchor(ns: string, n: number): Promise<number[]> {
  const { runNft } = await import('../src/lib/nft/nft-runner.js');
  await runNft(['add', 'table', 'inet', 'anchor'], { netns: ns });
  await runNft(['add', 'set', 'inet', 'anchor', 's', '{ type ipv4_addr; flags timeout; }'], { netns: ns });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await runNft(['add', 'element', 'inet', 'anchor', 's', `{ 45.1.${i >> 8}.${i & 255} timeout 300s }`], { netns: ns });
    out.push(performance.now() - t);
  }
  return out;
}

const nsHandle = createNftNetns();
const listener = await startNftListener(nsHandle.host);
try {
  const a = summarize(await anchor(nsHandle.name, 200));
  const runs: Run[] = [];
  for (const backend of ['cli', 'netlink'] as const) for (const rate of [1000, 10_000]) runs.push(await run(backend, rate, nsHandle.name, `${backend}${rate}`));
  const rows = runs.map((r) => {
    const s = summarize(r.samples);
    return [r.backend, `${r.rate}/s`, s.n, r.batches, r.applyMs.toFixed(1), s.p50, s.p90, s.p99, s.max, (a.p50 / s.p50).toFixed(1), r.kernelMB.toFixed(1), r.rssMB.toFixed(0)];
  });
  printTable(
    `answer → set latency, ms (${seconds} s per rate; anchor: one nft process per answer p50 ${a.p50} ms, p99 ${a.p99} ms)`,
    ['backend', 'rate', 'answers', 'transactions', 'ms/transaction', 'p50', 'p90', 'p99', 'max', 'anchor p50 ×', 'kernel MB (SUnreclaim rise)', 'RSS MB (peak so far)'],
    rows,
  );
  const nl = runs.filter((r) => r.backend === 'netlink');
  const sum = (i: number) => summarize(nl[i]?.samples ?? []);
  writeResults(
    'learner-latency',
    {
      seconds,
      anchor: a,
      runs: runs.map((r) => ({ backend: r.backend, rate: r.rate, transactions: r.batches, msPerTransaction: r.applyMs, latencyMs: summarize(r.samples), kernelMB: r.kernelMB, rssMB: r.rssMB })),
    },
    {
      'p50 1k': sum(0).p50,
      'p99 1k': sum(0).p99,
      'p50 10k': sum(1).p50,
      'p99 10k': sum(1).p99,
      'anchor p50': a.p50,
      'p99 10k ≤ 20 ms': sum(1).p99 <= 20,
      'kernel MB 10k': nl[1]?.kernelMB ?? NaN,
      'RSS MB': nl[1]?.rssMB ?? NaN,
    },
  );
} finally {
  await listener.stop();
  await nsHandle.teardown();
}
