import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createBlocklist, type ListSyncReport } from '../blocklist/index.js';
import { loadConfig } from '../config/index.js';
import { createCliLogger } from '../lib/log/logger.js';
import { createSetSync, type ApplyReport } from '../set-sync/index.js';
import { targetOf } from '../wiring/list-pipeline.js';

/**
 * `sync [--list NAME] [--dry-run]`: one download + apply, then a summary. Exit 0 when every list is
 * in sync with fresh data, 1 when a list kept its last good data or failed, 2 on a usage/config error.
 * `--dry-run` computes the difference against the kernel and prints it; it touches neither the sets
 * nor the snapshots (it works on a temporary copy of the state directory).
 */
export async function syncCommand(opts: { file: string | undefined; list: string | undefined; dryRun: boolean }): Promise<number> {
  const config = await loadConfig(opts.file);
  if (config.lists.length === 0) {
    process.stderr.write('sync: no lists configured; add a "lists" block (see src/blocklist/README.md)\n');
    return 2;
  }
  const lists = opts.list === undefined ? config.lists : config.lists.filter((l) => l.name === opts.list);
  if (lists.length === 0) {
    process.stderr.write(`sync: no list named "${opts.list ?? ''}"; configured: ${config.lists.map((l) => l.name).join(', ')}\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  const step = (text: string): void => {
    if (tty) process.stderr.write(`\r\x1b[2K… ${text}`);
  };
  const stateDir = opts.dryRun ? await mkdtemp(join(tmpdir(), 'unbound-sidecar-dry-')) : config.stateDir;
  if (opts.dryRun) await cp(config.stateDir, stateDir, { recursive: true }).catch(() => undefined);
  const logger = createCliLogger(tty ? 'error' : 'warn');
  const registry = new Registry();
  const blocklist = createBlocklist({ lists, stateDir, logger, registry });
  // What this run leaves in the sets is recorded there: the next run skips reading them back while nothing else committed (src/set-sync/README.md).
  const setSync = createSetSync({
    logger,
    registry,
    maxTransactionPrefixes: config.setSync.maxTransactionPrefixes,
    maxQuietTransactionPrefixes: config.setSync.maxQuietTransactionPrefixes,
    recordDir: join(stateDir, 'set-sync'),
  });
  const started = performance.now();
  try {
    step('restoring snapshots');
    await blocklist.loadSnapshots();
    step(`downloading ${lists.length} list(s)`);
    const reports = await blocklist.refresh(opts.list);
    let healthy = true;
    for (const list of lists) {
      const report = reports.find((r) => r.list === list.name);
      const model = blocklist.current(list.name);
      let applied: ApplyReport[] = [];
      if (model) {
        step(`${opts.dryRun ? 'comparing' : 'applying'} ${list.name}`);
        applied = await setSync.apply(targetOf(list), model, { dryRun: opts.dryRun });
      }
      if (tty) process.stderr.write('\r\x1b[2K');
      process.stdout.write(formatSummary(list.name, report, applied, opts.dryRun));
      if (!report || report.outcome === 'failed' || report.outcome === 'partial' || report.outcome === 'kept-last-good') healthy = false;
    }
    process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(1)} s${opts.dryRun ? ' (dry run: nothing changed)' : ''}\n`);
    return healthy ? 0 : 1;
  } finally {
    await blocklist.stop();
    if (opts.dryRun) await rm(stateDir, { recursive: true, force: true });
  }
}

const n = (v: number): string => v.toLocaleString('en-US');

const BASIS: Readonly<Record<NonNullable<ApplyReport['basis']>, string>> = {
  memory: "against this run's last write",
  record: 'kernel unchanged since the last sync',
  readback: 'read back from the kernel',
};

function formatSummary(list: string, report: ListSyncReport | undefined, applied: ApplyReport[], dryRun: boolean): string {
  const lines = [`list ${list}: ${report?.outcome ?? 'no data'}${report ? ` — ${n(report.entries.ipv4)} IPv4 + ${n(report.entries.ipv6)} IPv6 ranges` : ''}`];
  for (const s of report?.sources ?? []) {
    const rejected = Object.entries(s.rejected)
      .filter(([, c]) => c > 0)
      .map(([why, c]) => `${why} ${n(c)}`)
      .join(', ');
    const counts = s.fetched !== undefined ? ` fetched ${n(s.fetched)}, parsed ${n(s.parsed ?? 0)}` : '';
    const why = s.reason !== undefined ? ` (${s.reason}${s.error ? `: ${s.error}` : ''})` : '';
    const same = s.sameBody ? ' (the same body as the last download: its data kept, not parsed again)' : '';
    lines.push(`  ${s.url}: ${s.outcome}${why}${counts}${rejected ? `, rejected ${rejected}` : ''}${same}`);
  }
  for (const a of applied) {
    const verb = dryRun ? 'would add' : 'added';
    lines.push(
      `  set ${a.set}: ${a.mode}, ${verb} ${n(a.added)}, ${dryRun ? 'would remove' : 'removed'} ${n(a.removed)}, unchanged ${n(a.unchanged)} (${Math.round(a.durationMs)} ms${a.basis ? `; ${BASIS[a.basis]}` : ''})`,
    );
  }
  return `${lines.join('\n')}\n`;
}
