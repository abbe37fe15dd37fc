/**
 * Domain matcher (src/lib/domain-match) at registry scale: build time, memory and lookups/s for
 * 1M generated registry-like entries (apex names over many TLDs, `*.` wildcards, deep subdomains,
 * IDN as punycode), with the anchors measured in the same run on the same data:
 *   - `set`: the obvious implementation — a JS Set of the normalised strings, lookups walk the
 *     name's suffixes with slice() and Set.has();
 *   - `linear`: `name === e || name.endsWith('.' + e)` over a 1000-entry sample (what a plugin that
 *     loops over its list does); its rate is per 1000 entries, so divide by 1000 for 1M.
 * Each method runs in its own child process so heap/RSS deltas are its own. Queries: 40% under a
 * listed entry (apex, subdomain, mixed case, trailing dot), 60% unlisted (random, near misses like
 * `notexample.com`, parents of listed subdomains). Targets: ≤ 150 MB, ≥ 1M lookups/s.
 * "retained" = heap + ArrayBuffers after the input array is dropped and GC ran: what the matcher
 * holds. RSS deltas also carry the transient split array, whose pages V8 keeps after the GC.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, domainToASCII } from 'node:url';
import { DomainMatcher } from '../src/lib/domain-match/index.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { prng } from './prng.js';

type Method = 'packed' | 'set' | 'linear';
const SIZE = envNumber('BENCH_DOMAINS', 1_000_000);
const QUERIES = 1_000_000;
const LINEAR_SAMPLE = 1000;

const TLDS = ['com', 'com', 'com', 'net', 'org', 'ru', 'ru', 'info', 'io', 'xyz', 'top', 'de', 'co.uk', 'com.ua', 'online', 'site'];
const SYL = ['ka', 'ro', 'net', 'bet', 'cdn', 'max', 'tube', 'win', 'pro', 'ex', 'lo', 'mi', 'zo', 'play', 'news', 'shop', 'vpn', 'go', 'top', 'az'];
const CYR = ['каз', 'ино', 'ставк', 'торр', 'кино', 'рус', 'шоп'];
const SUB = ['www', 'cdn', 'api', 'm', 'static', 'img', 'a1', 'edge-7', 'mail'];

function pick<T>(r: () => number, a: readonly T[]): T {
  return a[Math.floor(r() * a.length)] as T;
}
function word(r: () => number): string {
  let s = '';
  const n = 2 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) s += pick(r, SYL);
  return r() < 0.3 ? `${s}${Math.floor(r() * 1000)}` : s;
}

/** Registry-like entries as the blocklist hands them over (normalised: `*.` kept here on purpose, IDN as punycode). */
export function generate(n: number): string[] {
  const r = prng(n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = r();
    const base = `${word(r)}.${pick(r, TLDS)}`;
    if (k < 0.55) out.push(base);
    else if (k < 0.8) out.push(`*.${base}`);
    else if (k < 0.95) out.push(`${pick(r, SUB)}.${r() < 0.3 ? `${pick(r, SUB)}.` : ''}${base}`);
    else out.push(domainToASCII(`${pick(r, CYR)}${pick(r, CYR)}${Math.floor(r() * 100)}.${r() < 0.5 ? 'рф' : 'com'}`));
  }
  return out;
}

function queries(entries: readonly string[]): string[] {
  const r = prng(7);
  const out: string[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const e = pick(r, entries).replace(/^\*\./, '');
    const k = r();
    if (k < 0.15) out.push(e);
    else if (k < 0.3) out.push(`${pick(r, SUB)}.${e}.`);
    else if (k < 0.4) out.push(`${pick(r, SUB)}.${pick(r, SUB)}.${e}`.toUpperCase());
    else if (k < 0.5) out.push(`not${e}`);
    else if (k < 0.6) out.push(e.slice(e.indexOf('.') + 1) || 'com');
    else out.push(`${pick(r, SUB)}.${word(r)}x${Math.floor(r() * 1e6)}.${pick(r, TLDS)}.`);
  }
  return out;
}

type Lookup = (name: string) => boolean;

function buildSet(entries: readonly string[]): Lookup {
  const set = new Set<string>();
  for (const e of entries) set.add(e.toLowerCase().replace(/^\*\./, '').replace(/\.$/, ''));
  return (name) => {
    let s = name.toLowerCase();
    if (s.endsWith('.')) s = s.slice(0, -1);
    for (;;) {
      if (set.has(s)) return true;
      const dot = s.indexOf('.');
      if (dot < 0) return false;
      s = s.slice(dot + 1);
    }
  };
}

function buildLinear(entries: readonly string[]): Lookup {
  const list = entries.slice(0, LINEAR_SAMPLE).map((e) => e.replace(/^\*\./, ''));
  const dotted = list.map((e) => `.${e}`);
  return (name) => {
    let s = name.toLowerCase();
    if (s.endsWith('.')) s = s.slice(0, -1);
    for (let i = 0; i < list.length; i++) if (s === list[i] || s.endsWith(dotted[i] as string)) return true;
    return false;
  };
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function child(method: Method, dir: string): Promise<void> {
  // The list arrives as one body (like a download); the entry array is split from it, handed to
  // the build and then dropped, so the deltas are what each matcher *retains* on its own. Queries
  // are read only after the memory figures are taken.
  const body = readFileSync(join(dir, 'entries.txt'), 'latin1');
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  let entries: string[] | undefined = body.split('\n');
  let lookup: Lookup;
  let matcherBytes = 0;
  if (method === 'packed') {
    const { matcher } = DomainMatcher.build(entries);
    matcherBytes = matcher.byteLength;
    lookup = (name) => matcher.matches(name);
  } else {
    lookup = method === 'set' ? buildSet(entries) : buildLinear(entries);
  }
  const buildMs = performance.now() - t0;
  const peakRssMb = mb(process.resourceUsage().maxRSS * 1024 - before.rss);
  entries = undefined;
  gc();
  const after = process.memoryUsage();
  const qs = readFileSync(join(dir, 'queries.txt'), 'latin1').split('\n');
  // Warm up, then as many rounds over the query set as fit in ~2 s.
  const n = method === 'linear' ? 20_000 : qs.length;
  let hits = 0;
  for (let i = 0; i < Math.min(n, 50_000); i++) if (lookup(qs[i] as string)) hits++;
  hits = 0;
  let done = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < 2000) {
    hits = 0;
    for (let i = 0; i < n; i++) if (lookup(qs[i] as string)) hits++;
    done += n;
  }
  const secs = (performance.now() - t1) / 1000;
  console.log(
    JSON.stringify({
      buildMs: Math.round(buildMs),
      heapMb: mb(after.heapUsed - before.heapUsed),
      externalMb: mb(after.arrayBuffers - before.arrayBuffers),
      rssMb: mb(after.rss - before.rss),
      matcherMb: mb(matcherBytes),
      peakRssMb,
      processPeakRssMb: mb(process.resourceUsage().maxRSS * 1024),
      lookupsPerSec: Math.round(done / secs),
      hits,
      queries: n,
    }),
  );
}

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

interface Row {
  method: Method;
  buildMs: number;
  heapMb: number;
  externalMb: number;
  rssMb: number;
  matcherMb: number;
  peakRssMb: number;
  processPeakRssMb: number;
  lookupsPerSec: number;
  hits: number;
  queries: number;
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'domain-match-bench-'));
  try {
    const entries = generate(SIZE);
    writeFileSync(join(dir, 'entries.txt'), entries.join('\n'));
    writeFileSync(join(dir, 'queries.txt'), queries(entries).join('\n'));
    for (const method of ['packed', 'set', 'linear'] as const) {
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', method, dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
      rows.push({ method, ...(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Omit<Row, 'method'>) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const packed = rows.find((r) => r.method === 'packed');
  const set = rows.find((r) => r.method === 'set');
  // Same data, same answers, or the rates compare different work.
  if (packed?.hits !== set?.hits) throw new Error(`domain-match: packed and set disagree: ${packed?.hits} vs ${set?.hits} hits`);
  printTable(
    `domain matcher, ${SIZE} entries, ${QUERIES} queries (${packed?.hits ?? 0} hits); linear = ${LINEAR_SAMPLE}-entry sample`,
    ['method', 'build ms', 'retained heap MB', 'retained buffers MB', 'retained RSS MB', 'build peak RSS Δ MB', 'process peak RSS MB', 'lookups/s', 'vs set'],
    rows.map((r) => [r.method, r.buildMs, r.heapMb, r.externalMb, r.rssMb, r.peakRssMb, r.processPeakRssMb, r.lookupsPerSec, set ? (r.lookupsPerSec / set.lookupsPerSec).toFixed(2) : '']),
  );
  const file = writeResults(
    'domain-match',
    { targets: { memoryMb: 150, lookupsPerSec: 1_000_000 }, size: SIZE, queries: QUERIES, linearSample: LINEAR_SAMPLE, rows },
    {
      entries: SIZE,
      'packed build ms': packed?.buildMs ?? NaN,
      'packed MB (heap+buffers)': (packed?.heapMb ?? NaN) + (packed?.externalMb ?? NaN),
      'packed lookups/s': packed?.lookupsPerSec ?? NaN,
      'set MB': (set?.heapMb ?? NaN) + (set?.externalMb ?? NaN),
      'set lookups/s': set?.lookupsPerSec ?? NaN,
      'linear(1k) lookups/s': rows.find((r) => r.method === 'linear')?.lookupsPerSec ?? NaN,
    },
  );
  console.log(`\nwrote ${file}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) await child(process.argv[i + 1] as Method, process.argv[i + 2] ?? '');
  else await main();
}
