/**
 * How every bench reports: a table on stdout, the latest run as bench/results/<name>.json, and
 * one row appended to bench/results/<name>.md so the history stays readable in the repository.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** Load average is recorded because benches share the machine with whatever else runs on it. */
export function environment(): Record<string, string | number> {
  const unbound = spawnSync('unbound', ['-V'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '?';
  const avahi = spawnSync('avahi-daemon', ['-V'], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return { host: hostname(), cpu: cpus()[0]?.model ?? '?', cpus: cpus().length, loadavg: load, node: process.version, unbound, avahi };
}

export function printTable(title: string, header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(cells[0] ?? []));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

export function fmt(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/**
 * `summary` is one markdown row's worth of headline numbers (column name → value); `result` is
 * everything, written as JSON with the date and environment.
 */
export function writeResults(name: string, result: Record<string, unknown>, summary: Record<string, string | number | boolean>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString();
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ bench: name, date, environment: environment(), ...result }, null, 2)}\n`);
  const md = join(RESULTS_DIR, `${name}.md`);
  const cols = ['date', ...Object.keys(summary)];
  const header = `| ${cols.join(' | ')} |`;
  if (!existsSync(md)) {
    appendFileSync(md, `# ${name}\n\nOne row per run of \`bench/${name}.bench.ts\`; details of the latest in \`${name}.json\`.\n\n`);
    appendFileSync(md, `${header}\n|${cols.map(() => '---').join('|')}|\n`);
  } else if (
    readFileSync(md, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('| date |'))
      .at(-1) !== header
  ) {
    // The bench reports other columns than the last table has: start a new table under it.
    appendFileSync(md, `\n${header}\n|${cols.map(() => '---').join('|')}|\n`);
  }
  const vals = [date.slice(0, 16).replace('T', ' '), ...Object.values(summary).map((v) => (typeof v === 'number' ? fmt(v) : String(v)))];
  appendFileSync(md, `| ${vals.join(' | ')} |\n`);
  return file;
}

/** Env-tunable numbers, so `BENCH_SECONDS=30 npm run bench` can run longer without code changes. */
export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
