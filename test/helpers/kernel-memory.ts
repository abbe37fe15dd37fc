/**
 * The kernel's transient memory during an nftables load: `SUnreclaim` (unreclaimable slab) from
 * /proc/meminfo, sampled every ~10 ms, as a peak above a baseline taken right before.
 *
 * Why SUnreclaim: while a transaction commits with any NFNLGRP_NFTABLES listener present,
 * nf_tables_setelem_notify() allocates one notification skb (nlmsg_new(NLMSG_GOODSIZE), slab
 * kmalloc-8k) per element and queues it on the commit's notify list; nft_commit_notify() frees
 * them only once the commit is over (net/netfilter/nf_tables_api.c). That memory is kernel slab,
 * invisible in the daemon's RSS.
 *
 * The sampling runs in a worker thread, so a busy event loop in the process doing the load (a big
 * send, a JSON parse) cannot make it miss the peak. SUnreclaim is machine-wide: anything else
 * running on the machine moves it too, so callers repeat runs and give assertions a margin.
 * Shared by the set-sync integration test and the benches (bench/set-sync.bench.ts,
 * bench/learner-latency.bench.ts).
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { NetnsHost } from '../lab/netns.js';

export interface KernelMemoryPeak {
  /** SUnreclaim right before sampling started, MB (10^6 bytes). */
  readonly baselineMB: number;
  /** Highest SUnreclaim seen minus the baseline, MB. */
  readonly peakDeltaMB: number;
  /**
   * The largest rise above the lowest value seen before it, MB: what a load added even when other
   * work on the machine freed slab before or while it ran (then the baseline overstates).
   */
  readonly peakRiseMB: number;
  /** SUnreclaim at stop minus the baseline, MB (what stayed allocated). */
  readonly endDeltaMB: number;
  readonly samples: number;
}

export interface KernelMemorySampler {
  stop(): Promise<KernelMemoryPeak>;
}

/** SUnreclaim in kB, or undefined when /proc/meminfo has no such line (not Linux). */
export function sUnreclaimKB(): number | undefined {
  const m = /^SUnreclaim:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Slots of the shared array: [0] stop flag, [1] peak kB, [2] last kB, [3] samples, [4] lowest kB so far, [5] largest rise kB. */
const WORKER = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const a = new Int32Array(workerData.shared);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const read = () => Number(/^SUnreclaim:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))[1]);
while (Atomics.load(a, 0) === 0) {
  const kb = read();
  if (kb > Atomics.load(a, 1)) Atomics.store(a, 1, kb);
  if (kb < Atomics.load(a, 4)) Atomics.store(a, 4, kb);
  if (kb - Atomics.load(a, 4) > Atomics.load(a, 5)) Atomics.store(a, 5, kb - Atomics.load(a, 4));
  Atomics.store(a, 2, kb);
  Atomics.add(a, 3, 1);
  Atomics.wait(sleeper, 0, 0, workerData.intervalMs);
}
`;

/**
 * Starts sampling; resolves once the worker has taken its first reading (a worker takes tens of
 * ms to start, longer than a small transaction). The peak of one commit lasts only until
 * nft_commit_notify() frees the notifications, so the default interval is 2 ms (a read of
 * /proc/meminfo costs ~40 µs).
 */
export async function sampleKernelMemory(opts: { intervalMs?: number } = {}): Promise<KernelMemorySampler> {
  const baseline = sUnreclaimKB();
  if (baseline === undefined) throw new Error('kernel-memory: /proc/meminfo has no SUnreclaim line');
  const shared = new SharedArrayBuffer(24);
  const a = new Int32Array(shared);
  a[1] = baseline;
  a[2] = baseline;
  a[4] = baseline;
  const worker = new Worker(WORKER, { eval: true, workerData: { shared, intervalMs: opts.intervalMs ?? 2 } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  for (let i = 0; i < 500 && Atomics.load(a, 3) === 0; i++) await new Promise((r) => setTimeout(r, 2));
  return {
    async stop() {
      Atomics.store(a, 0, 1);
      await exited;
      const end = sUnreclaimKB() ?? a[2] ?? baseline;
      const peak = Math.max(a[1] ?? baseline, end);
      const mb = (kb: number): number => (kb * 1024) / 1e6;
      return { baselineMB: mb(baseline), peakDeltaMB: mb(peak - baseline), peakRiseMB: mb(a[5] ?? 0), endDeltaMB: mb(end - baseline), samples: a[3] ?? 0 };
    },
  };
}

/** Runs `work` while sampling; the peak comes with its result. */
export async function withKernelMemory<T>(work: () => Promise<T>, opts: { intervalMs?: number } = {}): Promise<{ result: T; kernel: KernelMemoryPeak }> {
  const sampler = await sampleKernelMemory(opts);
  try {
    const result = await work();
    return { result, kernel: await sampler.stop() };
  } catch (err) {
    await sampler.stop();
    throw err;
  }
}

/**
 * A NFNLGRP_NFTABLES listener inside the namespace (`nft monitor`, output discarded): without any
 * listener nfnetlink_has_listeners() is false and the kernel allocates no notifications at all,
 * so a measurement without one would show nothing. Resolves once nft has had time to subscribe.
 */
export async function startNftListener(host: NetnsHost): Promise<{ stop(): Promise<void> }> {
  const child = host.spawn(['nft', 'monitor']);
  child.stdout?.resume();
  child.stderr?.resume();
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode !== null) throw new Error(`kernel-memory: nft monitor exited ${child.exitCode}`);
  return {
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(-child.pid, 'SIGTERM');
      await gone;
    },
  };
}
