/**
 * List model: parse + validate + build the canonical model (blocklist/source-parse.ts) from 300k
 * and 1M mixed IPv4/IPv6 entries, as the registry serves them (a JSON array of strings) and as a
 * `.lst` file; then the snapshot write and the snapshot load (the cold path at boot without
 * internet). Anchor, same run, same data: the obvious implementation — JSON.parse, one object with
 * BigInt bounds per entry, comparator sort, merge.
 *
 * Each measurement runs in its own child process so peak RSS (getrusage maxrss) is its own. The
 * body is read from a file first, like a downloaded Buffer; "rss before" is after that read.
 * Targets (whole cold load incl. nft, 1M): ≤ 5 s, ≤ 300 MB — this is the list share.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSource } from '../src/blocklist/source-parse.js';
import { readSnapshot, writeSnapshot } from '../src/blocklist/snapshot.js';
import { EntryGuard } from '../src/lib/ip-prefix/bogons.js';
import { parseEntry } from '../src/lib/ip-prefix/entry.js';
import { printTable, writeResults } from './bench-report.js';
import { prng } from './prng.js';

const SIZES = [300_000, 1_000_000];
type Method = 'json' | 'lines' | 'snapshot' | 'anchor';

/**
 * Registry-like mix: 60% v4 hosts, 15% v4 prefixes (mostly /24, a few up to /16), 2% v4 a-b ranges inside a /24,
 * 20% v6 (/32, /48, /64, /128), ~1% junk and bogons (rejected), 2% duplicates of earlier entries.
 */
export function generate(n: number): string[] {
  const r = prng(n);
  const o = () => Math.floor(r() * 256);
  const h = () => Math.floor(r() * 0x10000).toString(16);
  const v4len = () => {
    const k = r();
    return k < 0.6 ? 24 : k < 0.85 ? 22 + Math.floor(r() * 2) : k < 0.98 ? 18 + Math.floor(r() * 4) : 16 + Math.floor(r() * 2);
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = r();
    const a = 1 + Math.floor(r() * 222);
    if (k < 0.6) out.push(`${a}.${o()}.${o()}.${o()}`);
    else if (k < 0.75) out.push(`${a}.${o()}.${o()}.0/${v4len()}`);
    else if (k < 0.77) {
      const [b, c, x] = [o(), o(), Math.floor(r() * 128)];
      out.push(`${a}.${b}.${c}.${x}-${a}.${b}.${c}.${x + 1 + Math.floor(r() * 120)}`);
    } else if (k < 0.97) out.push(`2a0${Math.floor(r() * 10)}:${h()}:${h()}:${h()}::${r() < 0.5 ? '' : h()}/${[32, 48, 64, 128][Math.floor(r() * 4)]}`);
    else if (k < 0.98) out.push(['10.1.2.3', '192.168.1.1', 'fe80::1', '0.0.0.0/0', 'not-an-ip', 'example.com'][Math.floor(r() * 6)] ?? '');
    else out.push(out[Math.floor(r() * out.length)] ?? '1.1.1.1');
  }
  return out;
}

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

/** Child: one measurement, result as JSON on stdout. */
async function child(method: Method, file: string): Promise<void> {
  const guard = new EntryGuard();
  const body = readFileSync(file);
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let v4 = 0;
  let v6 = 0;
  let extra: Record<string, number> = {};
  if (method === 'anchor') {
    const doc = JSON.parse(body.toString('utf8')) as unknown[];
    const ranges: { v6: boolean; first: bigint; last: bigint }[] = [];
    const big = (w: Uint32Array) => w.reduce((acc, x) => (acc << 32n) | BigInt(x), 0n);
    const scratch = new Uint32Array(8);
    for (const s of doc) {
      if (typeof s !== 'string') continue;
      const e = parseEntry(s);
      if (e.kind !== 'entry') continue;
      // Same validation as the real path, so both build the same thing.
      scratch.set(e.first);
      scratch.set(e.last, e.first.length);
      if (guard.check(e.family, scratch) === undefined) ranges.push({ v6: e.family === 'ipv6', first: big(e.first), last: big(e.last) });
    }
    ranges.sort((x, y) => (x.v6 !== y.v6 ? (x.v6 ? 1 : -1) : x.first < y.first ? -1 : x.first > y.first ? 1 : 0));
    const merged: typeof ranges = [];
    for (const x of ranges) {
      const m = merged[merged.length - 1];
      // biome-ignore lint/complexity/useMathMinMax: bigint bounds; Math.max takes numbers only.
      if (m && m.v6 === x.v6 && x.first <= m.last + 1n) m.last = x.last > m.last ? x.last : m.last;
      else merged.push({ ...x });
    }
    v4 = merged.filter((x) => !x.v6).length;
    v6 = merged.length - v4;
  } else if (method === 'snapshot') {
    const read = await readSnapshot(file, 'bench');
    if (read.kind !== 'snapshot') throw new Error('bench snapshot unreadable');
    v4 = read.snapshot.sources[0]?.ipv4.size ?? 0;
    v6 = read.snapshot.sources[0]?.ipv6.size ?? 0;
  } else {
    const p = parseSource(body, { format: method, contains: 'ips' }, guard);
    if (p.kind !== 'parsed') throw new Error(p.error);
    v4 = p.ipv4.size;
    v6 = p.ipv6.size;
    const t1 = performance.now();
    const snapFile = `${file}.snapshot`;
    await writeSnapshot(snapFile, { list: 'bench', updatedAt: Date.now(), sources: [{ url: 'bench', fetchedAt: Date.now(), parsed: p.parsed, ipv4: p.ipv4, ipv6: p.ipv6, domains: [] }] });
    extra = { snapshotWriteMs: Math.round(performance.now() - t1), snapshotBytes: readFileSync(snapFile).length };
    const ms = Math.round(t1 - t0);
    console.log(JSON.stringify({ ms, v4, v6, rssBefore, peakRss: process.resourceUsage().maxRSS * 1024, ...extra }));
    return;
  }
  const ms = Math.round(performance.now() - t0);
  console.log(JSON.stringify({ ms, v4, v6, rssBefore, peakRss: process.resourceUsage().maxRSS * 1024, ...extra }));
}

interface Row {
  size: number;
  method: Method;
  ms: number;
  v4: number;
  v6: number;
  rssBefore: number;
  peakRss: number;
  snapshotWriteMs?: number;
  snapshotBytes?: number;
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'list-model-bench-'));
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const entries = generate(size);
      const files: Record<Method, string> = { json: join(dir, `${size}.json`), lines: join(dir, `${size}.lst`), anchor: join(dir, `${size}.json`), snapshot: join(dir, `${size}.json.snapshot`) };
      writeFileSync(files.json, JSON.stringify(entries));
      writeFileSync(files.lines, `${entries.join('\n')}\n`);
      // json first: it writes the snapshot the snapshot row then loads.
      for (const method of ['json', 'lines', 'snapshot', 'anchor'] as const) {
        const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', method, files[method]], { encoding: 'utf8', maxBuffer: 1 << 20 });
        rows.push({ size, method, ...(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Omit<Row, 'size' | 'method'>) });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Every method must build the same model, or the timings compare different work.
  for (const size of SIZES) {
    const counts = new Set(rows.filter((r) => r.size === size).map((r) => `${r.v4}/${r.v6}`));
    if (counts.size !== 1) throw new Error(`list-model: methods disagree at ${size}: ${[...counts].join(' vs ')}`);
  }
  const anchorMs = (size: number) => rows.find((r) => r.size === size && r.method === 'anchor')?.ms ?? NaN;
  printTable(
    'list model: parse + validate + build (json/lines), snapshot load, anchor = JSON.parse + BigInt objects + sort + merge',
    ['entries', 'method', 'ms', 'vs anchor', 'peak RSS MB', 'RSS before MB', 'v4 ranges', 'v6 ranges', 'snapshot write ms', 'snapshot MB'],
    rows.map((r) => [
      r.size,
      r.method,
      r.ms,
      r.method === 'anchor' ? '1' : (r.ms / anchorMs(r.size)).toFixed(2),
      mb(r.peakRss),
      mb(r.rssBefore),
      r.v4,
      r.v6,
      r.snapshotWriteMs ?? '',
      r.snapshotBytes ? mb(r.snapshotBytes) : '',
    ]),
  );
  const at = (size: number, m: Method) => rows.find((r) => r.size === size && r.method === m);
  const file = writeResults(
    'list-model',
    { targets: { coldLoadMs: 5000, peakRssMb: 300, note: 'targets are for the whole cold load incl. nft; these rows are the list share' }, rows },
    {
      '1M json ms': at(1_000_000, 'json')?.ms ?? NaN,
      '1M json peak MB': mb(at(1_000_000, 'json')?.peakRss ?? NaN),
      '1M snapshot load ms': at(1_000_000, 'snapshot')?.ms ?? NaN,
      '1M snapshot peak MB': mb(at(1_000_000, 'snapshot')?.peakRss ?? NaN),
      '1M anchor ms': at(1_000_000, 'anchor')?.ms ?? NaN,
      '1M anchor peak MB': mb(at(1_000_000, 'anchor')?.peakRss ?? NaN),
    },
  );
  console.log(`\nwrote ${file}`);
}

// Importable (for `generate`) without running.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) await child(process.argv[i + 1] as Method, process.argv[i + 2] ?? '');
  else await main();
}
