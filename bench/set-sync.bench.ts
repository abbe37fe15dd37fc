/**
 * set-sync vs the router's original pipeline, on the same generated data in the same run, in a
 * throw-away namespace. Per size (300k, 1M ranges; 70% IPv4, 30% IPv6; singles, prefixes, ranges):
 * - cold load: a fresh process applies the model to empty sets; wall time, its own peak RSS and the
 *   peak RSS of the process tree (nft included, from /usr/bin/time).
 * - 1% churn: the same process then applies the churned model (mode chosen by the cost model).
 * - original: `nft -f` of `add element … { whole list }` into auto-merge sets already holding the
 *   base list, as the router's hourly timer did; then whether its set kept the deleted entries.
 * Exactness (reading both sets back) is checked up to BENCH_VERIFY_MAX ranges, because listing a
 * set is quadratic in the kernel (~70 s at 1M). `BENCH_SIZES=300000,1000000`.
 * Each backend (`BENCH_BACKENDS=netlink,cli`: nfnetlink direct, the default, and the nft binary)
 * runs its own child on its own table in the same namespace, against the same original-pipeline
 * anchor. Only netlink by default: with every transaction bounded, the nft binary lists the whole
 * set before each chunk (quadratic), which takes hours at 1M.
 *
 * Kernel memory: each child follows nftables as the daemon does (its own NFNLGRP_NFTABLES
 * subscription; with BENCH_FOREIGN_LISTENER=1 an `nft monitor` listens in the namespace too, and
 * bulk loads then keep the normal bound), and each child samples SUnreclaim during its cold load, churn and restart (test/helpers/
 * kernel-memory.ts): the largest rise, beside its peak RSS. The anchor runs without any listener
 * and only up to BENCH_ANCHOR_MAX (below). Restart: a second instance in
 * the same child applies the churned model to the filled sets — the readback (listing) it does
 * first, then nothing to write; up to BENCH_RESTART_MAX ranges. `BENCH_MAX_TX` overrides
 * setSync.maxTransactionPrefixes.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { rangeSetsEqual, rangeTexts, type RangeSet } from '../src/lib/ip-prefix/index.js';
import { nftListenersEverywhere } from '../src/lib/nft/netlink/netlink-listeners.js';
import { createNftBackend } from '../src/lib/nft/nft-backend.js';
import { createSetSync, DEFAULT_MAX_TRANSACTION_PREFIXES, type ApplyReport } from '../src/set-sync/index.js';
import { coverageOf, exactFromElements } from '../src/set-sync/readback.js';
import { startNftListener, withKernelMemory } from '../test/helpers/kernel-memory.js';
import { churn, model } from '../test/helpers/range-model.js';
import { createNftNetns, type NftNetns } from '../test/lab/nft-netns.js';
import { labMissing } from '../test/lab/prereqs.js';
import { envNumber, fmt, printTable, writeResults } from './bench-report.js';
import { run } from './spawn-run.js';

const SIZES = (process.env.BENCH_SIZES ?? '300000,1000000').split(',').map(Number);
const VERIFY_MAX = envNumber('BENCH_VERIFY_MAX', 300_000);
/**
 * The anchor is one transaction of the whole list. If anything on the machine listens to nf_tables
 * notifications (the kernel's test is machine-wide: src/lib/nft/netlink/netlink-listeners.ts), it
 * costs ~16.7 KiB of kernel slab per range until it commits: a 1M anchor beside another suite's
 * `nft monitor` drove this shared machine into a global OOM (22 GB in kmalloc-8k). So it runs only
 * up to BENCH_ANCHOR_MAX ranges, and only when nothing listens just before (a listener joining
 * while it commits still costs up to that size × 16.7 KiB: ~5 GB at 300k).
 */
const ANCHOR_MAX = envNumber('BENCH_ANCHOR_MAX', 300_000);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'netlink').split(',');
const RESTART_MAX = envNumber('BENCH_RESTART_MAX', 300_000);
const MAX_TX = envNumber('BENCH_MAX_TX', DEFAULT_MAX_TRANSACTION_PREFIXES);
/** 1: an `nft monitor` listens in the namespace as well (a user watching); 0 (default): only the daemon's own subscription. */
const FOREIGN_LISTENER = envNumber('BENCH_FOREIGN_LISTENER', 0) === 1;

const models = (n: number, churned: boolean) => {
  const n4 = Math.round(n * 0.7);
  const n6 = n - n4;
  return churned ? { ipv4: churn('ipv4', n4, 0.01, 11), ipv6: churn('ipv6', n6, 0.01, 12) } : { ipv4: model('ipv4', n4, 11), ipv6: model('ipv6', n6, 12) };
};

interface ChildResult {
  coldMs: number;
  coldMode: string;
  coldTx: number;
  coldKernelMB: number;
  coldKernelEndMB: number;
  churnMs: number;
  churnMode: string;
  churnTx: number;
  churnKernelMB: number;
  churnAdded: number;
  churnRemoved: number;
  restartMs?: number;
  restartKernelMB?: number;
  selfMaxRssMB: number;
  ranges: number;
}

/** Child mode: `--child N NETNS` — what the daemon process does, measured on itself. */
async function child(n: number, netns: string, table: string): Promise<void> {
  // The backend comes from UNBOUND_SIDECAR_NFT_BACKEND, set by the parent.
  const sync = createSetSync({ logger: pino({ level: 'warn' }), registry: new Registry(), maxTransactionPrefixes: MAX_TX });
  const target = { list: 'bench', family: 'inet' as const, table, set4: 'v4', set6: 'v6', netns, createSets: false };
  const m0 = models(n, false);
  const tx = (r: ApplyReport[]) => r.reduce((a, x) => a + x.transactions, 0);
  // As the daemon runs: following nftables changes (its own NFNLGRP_NFTABLES subscription) while it loads.
  await sync.start();
  let t = performance.now();
  const cold = await withKernelMemory(() => sync.apply(target, m0));
  const coldMs = performance.now() - t;
  const m1 = models(n, true);
  t = performance.now();
  const ch = await withKernelMemory(() => sync.apply(target, m1));
  const churnMs = performance.now() - t;
  const res: ChildResult = {
    coldMs,
    coldMode: cold.result.map((r) => r.mode).join('+'),
    coldTx: tx(cold.result),
    coldKernelMB: cold.kernel.peakRiseMB,
    coldKernelEndMB: cold.kernel.endDeltaMB,
    churnMs,
    churnMode: ch.result.map((r) => r.mode).join('+'),
    churnTx: tx(ch.result),
    churnKernelMB: ch.kernel.peakRiseMB,
    churnAdded: ch.result.reduce((a, r) => a + r.added, 0),
    churnRemoved: ch.result.reduce((a, r) => a + r.removed, 0),
    selfMaxRssMB: process.resourceUsage().maxRSS / 1024,
    ranges: m0.ipv4.size + m0.ipv6.size,
  };
  if (n <= RESTART_MAX) {
    const again = createSetSync({ logger: pino({ level: 'warn' }), registry: new Registry(), maxTransactionPrefixes: MAX_TX });
    t = performance.now();
    const r = await withKernelMemory(() => again.apply(target, m1));
    res.restartMs = performance.now() - t;
    res.restartKernelMB = r.kernel.peakRiseMB;
    await again.stop();
  }
  await sync.stop();
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

/** The router's script: `add element inet global force_vpn4 { <whole list> }` (+ v6), one `nft -f`. */
async function originalAdd(ns: NftNetns, m: { ipv4: RangeSet; ipv6: RangeSet }, dir: string): Promise<number> {
  const file = join(dir, 'ruleset.nft');
  writeFileSync(file, `add element inet bench o4 {\n${rangeTexts(m.ipv4).join(',\n')}\n}\nadd element inet bench o6 {\n${rangeTexts(m.ipv6).join(',\n')}\n}\n`);
  const r = await run('/usr/bin/time', ['-f', '%M', 'ip', 'netns', 'exec', ns.name, 'nft', '-f', file]);
  if (r.code !== 0) throw new Error(`original pipeline failed: ${r.err.slice(0, 500)}`);
  return r.ms;
}

async function coverage(ns: NftNetns, set: string, family: 'ipv4' | 'ipv6', table = 'bench'): Promise<RangeSet> {
  const l = await createNftBackend({ timeoutMs: 900_000 }).listSet({ family: 'inet', table, set }, ns.name);
  if (l.kind !== 'ok') throw new Error(`${set} missing`);
  const exact = exactFromElements(family, l.set.elements);
  if (!exact) throw new Error(`${set}: overlapping elements`);
  return coverageOf(exact);
}

/** Ranges of `gone` (in the old model, not the new) still covered by `cov`. */
function staleRanges(cov: RangeSet, old: RangeSet, now: RangeSet): number {
  const nowSet = new Set(rangeTexts(now));
  const covSet = coverageHas(cov);
  let stale = 0;
  for (let i = 0; i < old.size; i++)
    if (!nowSet.has(rangeTexts({ family: old.family, size: 1, data: old.data.subarray(i * 2 * (old.family === 'ipv4' ? 1 : 4), (i + 1) * 2 * (old.family === 'ipv4' ? 1 : 4)) })[0]!) && covSet(old, i))
      stale++;
  return stale;
}

function coverageHas(cov: RangeSet): (s: RangeSet, i: number) => boolean {
  const w = cov.family === 'ipv4' ? 1 : 4;
  const key = (d: Uint32Array, off: number) => Array.from(d.subarray(off, off + w), (x) => x.toString(16).padStart(8, '0')).join('');
  const firsts = Array.from({ length: cov.size }, (_, k) => key(cov.data, k * 2 * w));
  const lasts = Array.from({ length: cov.size }, (_, k) => key(cov.data, k * 2 * w + w));
  return (s, i) => {
    const f = key(s.data, i * 2 * w);
    let lo = 0;
    let hi = cov.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (firsts[mid]! > f) hi = mid - 1;
      else if (lasts[mid]! < f) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

async function runChild(n: number, ns: NftNetns, backend: string): Promise<{ r: ChildResult; treeMaxRssMB: number }> {
  const c = await run('/usr/bin/time', [
    '-f',
    '%M',
    'env',
    `UNBOUND_SIDECAR_NFT_BACKEND=${backend}`,
    process.execPath,
    '--import',
    'tsx',
    new URL(import.meta.url).pathname,
    '--child',
    String(n),
    ns.name,
    `b_${backend}`,
  ]);
  if (c.code !== 0) throw new Error(`child (${backend}) failed: ${c.err.slice(-2000)}`);
  return { r: JSON.parse(c.out.trim().split('\n').pop() ?? '{}') as ChildResult, treeMaxRssMB: Number(c.err.trim().split('\n').pop()) / 1024 };
}

async function measure(n: number): Promise<Record<string, number | string | boolean>[]> {
  const ns = createNftNetns();
  const dir = mkdtempSync(join(tmpdir(), 'set-sync-bench-'));
  try {
    await ns.nft(
      ['-f', '-'],
      'table inet bench {\n set o4 { type ipv4_addr; flags interval; auto-merge; }\n set o6 { type ipv6_addr; flags interval; auto-merge; }\n}\n' +
        BACKENDS.map((b) => `table inet b_${b} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`).join(''),
    );
    const children = [];
    const listener = FOREIGN_LISTENER ? await startNftListener(ns.host) : undefined;
    try {
      for (const b of BACKENDS) children.push({ backend: b, ...(await runChild(n, ns, b)) });
    } finally {
      await listener?.stop();
    }
    const m0 = models(n, false);
    const m1 = models(n, true);
    const listening = nftListenersEverywhere();
    const anchor = n <= ANCHOR_MAX && listening.length === 0;
    if (!anchor) console.error(`set-sync: anchor not run at ${n}: ${n > ANCHOR_MAX ? `above BENCH_ANCHOR_MAX (${ANCHOR_MAX})` : `${listening.length} nf_tables listener(s) on the machine`}`);
    const origFillMs = anchor ? await originalAdd(ns, m0, dir) : NaN; // the state before the hourly run
    const origChurnMs = anchor && nftListenersEverywhere().length === 0 ? await originalAdd(ns, m1, dir) : NaN; // the hourly run with the 1%-changed list
    const origExact: Record<string, boolean | number> = {};
    if (Number.isFinite(origChurnMs) && m0.ipv4.size + m0.ipv6.size <= VERIFY_MAX) {
      const o4 = await coverage(ns, 'o4', 'ipv4');
      const o6 = await coverage(ns, 'o6', 'ipv6');
      origExact.origExact = rangeSetsEqual(o4, m1.ipv4) && rangeSetsEqual(o6, m1.ipv6);
      origExact.origStaleRanges = staleRanges(o4, m0.ipv4, m1.ipv4) + staleRanges(o6, m0.ipv6, m1.ipv6);
    }
    const rows: Record<string, number | string | boolean>[] = [];
    for (const { backend, r, treeMaxRssMB } of children) {
      const row: Record<string, number | string | boolean> = {
        entries: n,
        backend,
        maxTx: MAX_TX,
        ranges: r.ranges,
        coldMs: r.coldMs,
        coldMode: r.coldMode,
        coldTx: r.coldTx,
        coldKernelMB: r.coldKernelMB,
        coldKernelEndMB: r.coldKernelEndMB,
        selfMaxRssMB: r.selfMaxRssMB,
        treeMaxRssMB,
        churnMs: r.churnMs,
        churnMode: r.churnMode,
        churnTx: r.churnTx,
        churnKernelMB: r.churnKernelMB,
        churnAdded: r.churnAdded,
        churnRemoved: r.churnRemoved,
        ...(r.restartMs !== undefined ? { restartMs: r.restartMs, restartKernelMB: r.restartKernelMB ?? 0 } : {}),
        origFillMs,
        origChurnMs,
        ratio: r.churnMs / origChurnMs,
        ...origExact,
      };
      if (r.ranges <= VERIFY_MAX) {
        const t = `b_${backend}`;
        row.oursExact = rangeSetsEqual(await coverage(ns, 'v4', 'ipv4', t), m1.ipv4) && rangeSetsEqual(await coverage(ns, 'v6', 'ipv6', t), m1.ipv6);
      }
      rows.push(row);
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ns.teardown();
  }
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]), process.argv[4] ?? '', process.argv[5] ?? 'bench');
} else {
  const missing = labMissing({ nft: 'nftables' });
  if (missing) {
    console.error(`set-sync: cannot run: ${missing}`);
    process.exit(process.env.CI === 'true' ? 1 : 0);
  }
  const rows: Record<string, number | string | boolean>[] = [];
  for (const n of SIZES) {
    for (const row of await measure(n)) {
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  printTable(
    `set-sync: cold load, 1% churn and restart (bound ${MAX_TX} ranges per transaction, ${FOREIGN_LISTENER ? "an nft monitor and the daemon's subscription listening" : "only the daemon's own subscription listening"}) vs the original pipeline (nft -f add of the whole list, auto-merge)`,
    [
      'entries',
      'backend',
      'cold s (tx)',
      'cold kernel MB (peak / kept)',
      'RSS MB (ours / tree)',
      'churn s (mode, tx)',
      'churn kernel MB',
      'restart s / kernel MB',
      'original churn s',
      'ratio',
      'exact: ours / original (stale ranges kept)',
    ],
    rows.map((r) => [
      String(r.entries),
      String(r.backend),
      `${fmt(Number(r.coldMs) / 1000)} (${String(r.coldTx)})`,
      `${fmt(Number(r.coldKernelMB))} / ${fmt(Number(r.coldKernelEndMB))}`,
      `${fmt(Number(r.selfMaxRssMB))} / ${fmt(Number(r.treeMaxRssMB))}`,
      `${fmt(Number(r.churnMs) / 1000)} (${r.churnMode}, ${String(r.churnTx)})`,
      fmt(Number(r.churnKernelMB)),
      r.restartMs === undefined ? 'not run' : `${fmt(Number(r.restartMs) / 1000)} / ${fmt(Number(r.restartKernelMB))}`,
      fmt(Number(r.origChurnMs) / 1000),
      fmt(Number(r.ratio)),
      r.oursExact === undefined ? 'not read back' : `${r.oursExact} / ${r.origExact} (${r.origStaleRanges})`,
    ]),
  );
  const big = rows.at(-1)!;
  const mid = rows.find((r) => r.entries === 300_000) ?? big;
  const anchored = [...rows].reverse().find((r) => Number.isFinite(Number(r.origChurnMs))) ?? big;
  const targets = { coldLoadS: 8, rssMB: 300, coldKernelMB: 256, churn300kKernelMB: 64, churnRatio: 0.2 };
  console.log(
    `results: ${writeResults(
      'set-sync',
      { rows, targets },
      {
        entries: `${String(big.entries)} (${String(big.backend)})`,
        maxTx: MAX_TX,
        coldS: Number(big.coldMs) / 1000,
        coldKernelMB: Number(big.coldKernelMB),
        coldKernelKeptMB: Number(big.coldKernelEndMB),
        rssMB: Number(big.selfMaxRssMB),
        treeRssMB: Number(big.treeMaxRssMB),
        churnS: Number(big.churnMs) / 1000,
        'churn 300k kernel MB': Number(mid.churnKernelMB),
        'restart 300k s': Number(mid.restartMs ?? NaN) / 1000,
        'restart 300k kernel MB': Number(mid.restartKernelMB ?? NaN),
        origS: Number(big.origChurnMs) / 1000,
        ratio: Number(big.ratio),
        [`ratio at ${String(anchored.entries)}`]: Number(anchored.ratio),
      },
    )}`,
  );
}
