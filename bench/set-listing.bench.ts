/**
 * Reading an interval set back: the netlink reader (a GETSETELEM dump decoded part by part) vs
 * `nft -j list set` (the CLI backend: nft's dump, its JSON, our JSON.parse), on the same set in the
 * same run, in a throw-away namespace. Per size (`BENCH_SIZES`, default 100k, 300k, 1M IPv4 ranges
 * from test/helpers/range-model: singles, prefixes, odd ranges; `BENCH_READERS` picks readers)
 * each reader runs in a fresh child process under /usr/bin/time, so its wall time, CPU (user /
 * system: the kernel's dump work is system time in the reading process), the RSS the read added
 * to it (peak - before), the peak RSS of its process tree (nft included) and the event loop's worst
 * stall are its own. The parent samples SUnreclaim (/proc/meminfo, machine-wide) during each read.
 * Every result is checked against the model written.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rangeSetsEqual } from '../src/lib/ip-prefix/index.js';
import { exactFromElements } from '../src/set-sync/readback.js';
import { createNetlinkBackend } from '../src/lib/nft/netlink/netlink-backend.js';
import { createNftBackend } from '../src/lib/nft/nft-backend.js';
import { elementCommand, flushSetCommand, RangeElements, type SetRef } from '../src/lib/nft/nft-json.js';
import { model } from '../test/helpers/range-model.js';
import { createNftNetns } from '../test/lab/nft-netns.js';
import { labMissing } from '../test/lab/prereqs.js';
import { fmt, printTable, writeResults } from './bench-report.js';

const SIZES = (process.env.BENCH_SIZES ?? '100000,300000,1000000').split(',').map(Number);
const ALL_READERS = ['netlink-ranges', 'netlink-list', 'cli-list'] as const;
type Reader = (typeof ALL_READERS)[number];
const READERS = (process.env.BENCH_READERS?.split(',') ?? ALL_READERS).filter((r): r is Reader => (ALL_READERS as readonly string[]).includes(r));
/** A 1M-range dump takes the kernel minutes on a loaded machine: no deadline that would cut a measurement short. */
const TIMEOUT_MS = 1_800_000;
const REF: SetRef = { family: 'inet', table: 'bench', set: 'v4' };

interface ChildResult {
  ms: number;
  userMs: number;
  sysMs: number;
  maxLagMs: number;
  exact: boolean;
  elements: number;
  rssBeforeMB: number;
  maxRssMB: number;
}

/** Child mode: `--child READER N NETNS`, one read, measured on itself. */
async function child(reader: Reader, n: number, netns: string): Promise<void> {
  // The model to check against is built after the read, so the peak RSS is the read's.
  const rssBeforeMB = process.memoryUsage().rss / 1048576;
  let maxLag = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const t = performance.now();
    maxLag = Math.max(maxLag, t - last - 10);
    last = t;
  }, 10);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r =
    reader === 'netlink-ranges'
      ? await createNetlinkBackend({ timeoutMs: TIMEOUT_MS }).readRanges!(REF, netns)
      : await (reader === 'netlink-list' ? createNetlinkBackend({ timeoutMs: TIMEOUT_MS }) : createNftBackend({ timeoutMs: TIMEOUT_MS })).listSet(REF, netns);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  clearInterval(tick);
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  const m = model('ipv4', n, 21);
  let exact = false;
  let elements = 0;
  if (r.kind === 'ok' && 'size' in r.set) {
    exact = rangeSetsEqual(r.set, m);
    elements = r.set.size;
  } else if (r.kind === 'ok' && 'elements' in r.set) {
    const back = exactFromElements('ipv4', r.set.elements);
    exact = back !== undefined && rangeSetsEqual(back, m);
    elements = r.set.elements.length;
  }
  const res: ChildResult = { ms, userMs: cpu.user / 1000, sysMs: cpu.system / 1000, maxLagMs: maxLag, exact, elements, rssBeforeMB, maxRssMB };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

function sUnreclaimKB(): number {
  const m = /^SUnreclaim:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0);
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

async function measure(reader: Reader, n: number, netns: string): Promise<Record<string, number | string | boolean>> {
  const base = sUnreclaimKB();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, sUnreclaimKB())), 50);
  const c = await run('/usr/bin/time', ['-f', '%M', process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname, '--child', reader, String(n), netns]);
  clearInterval(sampler);
  if (c.code !== 0) throw new Error(`child ${reader} failed: ${c.err.slice(-2000)}`);
  const r = JSON.parse(c.out.trim().split('\n').pop() ?? '{}') as ChildResult;
  return {
    ranges: n,
    reader,
    s: r.ms / 1000,
    userS: r.userMs / 1000,
    sysS: r.sysMs / 1000,
    readRssMB: r.maxRssMB - r.rssBeforeMB,
    treeMaxRssMB: Number(c.err.trim().split('\n').pop()) / 1024,
    maxLagMs: r.maxLagMs,
    kernelPeakMB: (peak - base) / 1024,
    exact: r.exact,
    elements: r.elements,
  };
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Reader, Number(process.argv[4]), process.argv[5] ?? '');
} else {
  const missing = labMissing({ nft: 'nftables' });
  if (missing) {
    console.error(`set-listing: cannot run: ${missing}`);
    process.exit(process.env.CI === 'true' ? 1 : 0);
  }
  const rows: Record<string, number | string | boolean>[] = [];
  const ns = createNftNetns();
  try {
    await ns.nft(['-f', '-'], 'table inet bench {\n set v4 { type ipv4_addr; flags interval; }\n}\n');
    for (const n of SIZES) {
      await createNetlinkBackend().apply([flushSetCommand(REF), elementCommand('add', REF, new RangeElements(model('ipv4', n, 21)))], ns.name);
      for (const reader of READERS) {
        const row = await measure(reader, n, ns.name);
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    }
  } finally {
    await ns.teardown();
  }
  printTable(
    'set-listing: read an interval set back (fresh process each; system time = the kernel dump)',
    ['ranges', 'reader', 's', 'user s', 'sys s', 'RSS added by the read MB', 'tree peak RSS MB', 'max loop stall ms', 'SUnreclaim peak MB', 'exact'],
    rows.map((r) => [
      String(r.ranges),
      String(r.reader),
      fmt(Number(r.s)),
      fmt(Number(r.userS)),
      fmt(Number(r.sysS)),
      fmt(Number(r.readRssMB)),
      fmt(Number(r.treeMaxRssMB)),
      fmt(Number(r.maxLagMs)),
      fmt(Number(r.kernelPeakMB)),
      String(r.exact),
    ]),
  );
  const at = (reader: Reader) => rows.filter((r) => r.reader === reader).at(-1);
  const big = at('netlink-ranges');
  const anchor = at('cli-list');
  console.log(
    `results: ${writeResults('set-listing', { rows }, { ranges: Number(big?.ranges), netlinkS: Number(big?.s), netlinkAddedRssMB: Number(big?.readRssMB), listAddedRssMB: Number(at('netlink-list')?.readRssMB), cliS: Number(anchor?.s), cliAddedRssMB: Number(anchor?.readRssMB), cliTreeRssMB: Number(anchor?.treeMaxRssMB), loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') })}`,
  );
}
