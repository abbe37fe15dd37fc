/**
 * The hourly oneshot `unbound-sidecar sync` as a timer runs it — the whole CLI process
 * (`node dist/src/main.js sync --config …`: start, download, parse, read the kernel, diff, write,
 * exit) — against the router's original timer script (curl → grep → `nft -f` of the whole list
 * into auto-merge sets; shared/reference/router-write-up.txt), on the same list served by a
 * fixture HTTP server on loopback, into sets in a throw-away namespace. Per size (default 300k
 * ranges, 70 % IPv4; `BENCH_SIZES=300000,1000000`):
 *  1. cold: `sync` into empty sets;
 *  2. again on unchanged data (target: a noop in ≤ 1 s, whole process);
 *  3. a 1 % churn (target: ≤ 0.2× the original script on the same churn, whole process);
 * the anchor: the original script on the same churn, into sets already holding the base list.
 * After each of our runs the sets are read back over netlink and compared with the model (exact).
 * Kernel memory: SUnreclaim peak of each run, with an `nft monitor` listening in the namespace
 * (as the daemon's own subscription would be while a timer runs `sync`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rangeSetsEqual, rangeTexts, type RangeSet } from '../src/lib/ip-prefix/index.js';
import { createDefaultNftBackend } from '../src/lib/nft/netlink/netlink-backend.js';
import { startFixtureServer } from '../test/helpers/fixture-http-server.js';
import { startNftListener, withKernelMemory } from '../test/helpers/kernel-memory.js';
import { churn, model } from '../test/helpers/range-model.js';
import { createNftNetns, type NftNetns } from '../test/lab/nft-netns.js';
import { labMissing } from '../test/lab/prereqs.js';
import { repoRoot } from '../test/helpers/repo-root.js';
import { fmt, printTable, writeResults } from './bench-report.js';
import { run } from './spawn-run.js';

const SIZES = (process.env.BENCH_SIZES ?? '300000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);

const models = (n: number, churned: boolean): { ipv4: RangeSet; ipv6: RangeSet } => {
  const n4 = Math.round(n * 0.7);
  return churned ? { ipv4: churn('ipv4', n4, 0.01, 11), ipv6: churn('ipv6', n - n4, 0.01, 12) } : { ipv4: model('ipv4', n4, 11), ipv6: model('ipv6', n - n4, 12) };
};
const listBody = (m: { ipv4: RangeSet; ipv6: RangeSet }): string => `${[...rangeTexts(m.ipv4), ...rangeTexts(m.ipv6)].join('\n')}\n`;

/** The write-up's update-rkn-blacklist script, with its URL and set names swapped for the fixture's. */
const ORIGINAL = `set -e
BLACKLIST=$(mktemp); RULESET=$(mktemp)
curl -s "$1" > $BLACKLIST
echo "add element inet orig o4 {" > $RULESET
grep '\\.' $BLACKLIST >> $RULESET
echo "};" >> $RULESET
echo "add element inet orig o6 {" >> $RULESET
grep '\\:' $BLACKLIST >> $RULESET
echo "};" >> $RULESET
rm $BLACKLIST
ip netns exec "$2" nft -f $RULESET
rm $RULESET
`;

async function readBack(ns: NftNetns): Promise<{ ipv4: RangeSet; ipv6: RangeSet }> {
  const backend = createDefaultNftBackend({ timeoutMs: 600_000 });
  const read = async (set: string): Promise<RangeSet> => {
    const r = await backend.readRanges?.({ family: 'inet', table: 'ours', set }, ns.name);
    if (r?.kind !== 'ok') throw new Error(`readback of ${set}: ${r?.kind ?? 'no readRanges'}`);
    return r.set;
  };
  return { ipv4: await read('v4'), ipv6: await read('v6') };
}

async function measure(n: number): Promise<Record<string, number | string | boolean>> {
  const ns = createNftNetns();
  const dir = mkdtempSync(join(tmpdir(), 'sync-oneshot-bench-'));
  const server = await startFixtureServer();
  try {
    await ns.nft(
      ['-f', '-'],
      'table inet ours {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n' +
        'table inet orig {\n set o4 { type ipv4_addr; flags interval; auto-merge; }\n set o6 { type ipv6_addr; flags interval; auto-merge; }\n}\n',
    );
    const m0 = models(n, false);
    const m1 = models(n, true);
    let body = listBody(m0);
    server.route('/list', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
    // The registry's CSV as the script consumed it: one entry per line, each ending with a comma.
    server.route('/list.csv', (_req, res) => res.writeHead(200, { 'content-type': 'text/csv' }).end(body.replace(/\n/g, ',\n')));
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir: join(dir, 'state'),
        lists: [{ name: 'bench', sources: [{ url: server.url('/list'), format: 'lines', contains: 'ips' }], nft: { family: 'inet', table: 'ours', set4: 'v4', set6: 'v6', netns: ns.name } }],
      }),
    );
    const main = join(repoRoot(), 'dist', 'src', 'main.js');
    const sync = async (what: string, want: { ipv4: RangeSet; ipv6: RangeSet }): Promise<{ ms: number; kernelMB: number; summary: string; exact: boolean }> => {
      const { result, kernel } = await withKernelMemory(() => run(process.execPath, [main, 'sync', '--config', config]));
      if (result.code !== 0) throw new Error(`sync (${what}) exited ${result.code}: ${result.out}${result.err.slice(-2000)}`);
      const got = await readBack(ns);
      const exact = rangeSetsEqual(got.ipv4, want.ipv4) && rangeSetsEqual(got.ipv6, want.ipv6);
      const summary = result.out
        .split('\n')
        .filter((l) => l.includes('set '))
        .map((l) => l.trim())
        .join('; ');
      console.error(`sync-oneshot ${n} ${what}: ${fmt(result.ms)} ms, kernel +${fmt(kernel.peakRiseMB)} MB, exact ${exact}: ${summary}`);
      return { ms: result.ms, kernelMB: kernel.peakRiseMB, summary, exact };
    };
    const listener = await startNftListener(ns.host);
    let cold: Awaited<ReturnType<typeof sync>>;
    let again: Awaited<ReturnType<typeof sync>>;
    let churned: Awaited<ReturnType<typeof sync>>;
    try {
      cold = await sync('cold', m0);
      again = await sync('unchanged', m0);
      body = listBody(m1);
      churned = await sync('1% churn', m1);
    } finally {
      await listener.stop();
    }
    // The anchor, without a listener (a whole-list transaction with one needs ~17 KB of slab per range).
    const script = join(dir, 'original.sh');
    writeFileSync(script, ORIGINAL);
    body = listBody(m0);
    const fill = await run('bash', [script, server.url('/list.csv'), ns.name]);
    if (fill.code !== 0) throw new Error(`original script (fill) failed: ${fill.err.slice(-1000)}`);
    body = listBody(m1);
    const orig = await run('bash', [script, server.url('/list.csv'), ns.name]);
    if (orig.code !== 0) throw new Error(`original script (churn) failed: ${orig.err.slice(-1000)}`);
    return {
      entries: n,
      coldS: cold.ms / 1000,
      coldKernelMB: cold.kernelMB,
      coldExact: cold.exact,
      unchangedS: again.ms / 1000,
      unchangedKernelMB: again.kernelMB,
      unchangedNoop: /noop/.test(again.summary) && !/added [1-9]/.test(again.summary),
      unchangedExact: again.exact,
      churnS: churned.ms / 1000,
      churnKernelMB: churned.kernelMB,
      churnExact: churned.exact,
      origChurnS: orig.ms / 1000,
      churnRatio: churned.ms / orig.ms,
      unchangedSummary: again.summary,
      churnSummary: churned.summary,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    await ns.teardown();
  }
}

const missing = labMissing({ nft: 'nftables', curl: 'curl' });
if (missing) {
  console.error(`sync-oneshot: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}
const rows: Record<string, number | string | boolean>[] = [];
for (const n of SIZES) rows.push(await measure(n));
printTable(
  'oneshot `unbound-sidecar sync` (whole CLI process) vs the original timer script (curl + grep + nft -f), same list from a loopback HTTP server',
  ['ranges', 'cold s', 'unchanged s (noop?)', 'target ≤ 1 s', '1% churn s', 'original churn s', 'ratio', 'target ≤ 0.2', 'kernel MB cold / unchanged / churn', 'exact'],
  rows.map((r) => [
    String(r.entries),
    fmt(Number(r.coldS)),
    `${fmt(Number(r.unchangedS))} (${String(r.unchangedNoop)})`,
    Number(r.unchangedS) <= 1 ? 'met' : 'MISSED',
    fmt(Number(r.churnS)),
    fmt(Number(r.origChurnS)),
    fmt(Number(r.churnRatio)),
    Number(r.churnRatio) <= 0.2 ? 'met' : 'MISSED',
    `${fmt(Number(r.coldKernelMB))} / ${fmt(Number(r.unchangedKernelMB))} / ${fmt(Number(r.churnKernelMB))}`,
    String(r.coldExact === true && r.unchangedExact === true && r.churnExact === true),
  ]),
);
for (const r of rows) {
  writeResults(
    'sync-oneshot',
    { rows },
    {
      entries: Number(r.entries),
      coldS: Number(r.coldS),
      unchangedS: Number(r.unchangedS),
      unchangedNoop: Boolean(r.unchangedNoop),
      churnS: Number(r.churnS),
      origChurnS: Number(r.origChurnS),
      ratio: Number(r.churnRatio),
      exact: r.coldExact === true && r.unchangedExact === true && r.churnExact === true,
    },
  );
}
