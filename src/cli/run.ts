import { parseConfig, readConfigJson } from '../config/index.js';
import { startDaemon } from '../daemon.js';
import { errorMessage } from '../errors.js';
import { createRecentErrors } from '../http/index.js';
import { SerialQueue } from '../lib/concurrency/index.js';
import { createLogger, logProcessWarnings } from '../lib/log/logger.js';
import { createSystemdNotifier } from '../lib/systemd/notify.js';
import { reloadConfig } from './reload.js';
import { isRecord } from '../lib/narrow/is-record.js';

/** Config keys a SIGHUP applies without a restart; everything else is logged as "needs a restart". */
const LIVE = new Set(['log.level']);

/** `run`: load config, apply CLI overrides (validated like the file), start, stop cleanly on SIGTERM/SIGINT. */
export async function runCommand(opts: { file: string | undefined; listen: string[] | undefined; metrics: string | undefined; version?: string }): Promise<number> {
  // Overrides go into the file's JSON and through the same validation, so `--listen bogus` fails with
  // the same clear message; a SIGHUP re-applies them to the re-read file. (Not into a parsed Config:
  // parsing transforms values — durations become ms — so it cannot be validated twice.)
  const withOverrides = (raw: unknown): unknown => {
    if (!isRecord(raw)) return raw; // the schema reports a non-object file
    const block = (key: string): Record<string, unknown> => (isRecord(raw[key]) ? raw[key] : {});
    return {
      ...raw,
      ...(opts.listen ? { dns: { ...block('dns'), listen: opts.listen } } : {}),
      ...(opts.metrics ? { metrics: { ...block('metrics'), listen: opts.metrics } } : {}),
    };
  };
  let config = parseConfig(withOverrides(await readConfigJson(opts.file)), opts.file ?? 'command line');
  const recentErrors = createRecentErrors();
  const logger = createLogger(config.log.level, undefined, undefined, { logMethod: recentErrors.logMethodHook() });
  logProcessWarnings(logger); // journald gets JSON lines only
  const notifier = createSystemdNotifier({ onError: (message) => logger.warn(message) });
  const daemon = await startDaemon(config, logger, { recentErrors, ...(opts.version ? { version: opts.version } : {}) });
  // startDaemon resolves once the listeners are bound and the snapshots are in the sets.
  await notifier.ready(`serving ${config.dns.zones.join(' ')} on ${config.dns.listen.join(' ')}`);
  notifier.startWatchdog();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      void notifier.stopping();
      const force = setTimeout(() => resolve(1), 5000);
      force.unref();
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    // `on`, not `once`: a second SIGTERM/SIGINT while stopping must not take the default action
    // (exit at once) in the middle of the final save of the learned store.
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));

    // SIGHUP (`systemctl reload`): re-read the config (an invalid file keeps the running one), then
    // download the lists now. One reload at a time; HUPs during one run it once more after it.
    const reloads = new SerialQueue();
    const reload = async (): Promise<void> => {
      await notifier.reloading();
      try {
        const r = await reloadConfig(opts.file, config, withOverrides);
        switch (r.kind) {
          case 'invalid':
            logger.error({ err: r.error }, `SIGHUP: ${opts.file ?? 'config'} not reloaded, the running config stays: ${r.error}`);
            break;
          case 'loaded': {
            if (r.changed.includes('log.level')) logger.level = r.config.log.level;
            const restart = r.changed.filter((p) => !LIVE.has(p));
            if (restart.length > 0) logger.warn({ changed: restart }, `SIGHUP: ${restart.join(', ')} changed; these apply after \`systemctl restart unbound-sidecar\``);
            logger.info({ changed: r.changed }, 'SIGHUP: config re-read');
            // Only what was applied becomes "current": the next reload reports the rest again.
            config = { ...config, log: r.config.log };
            break;
          }
          default: {
            const never: never = r;
            return never;
          }
        }
        await daemon.refreshLists();
      } finally {
        await notifier.ready('reloaded');
      }
    };
    process.on('SIGHUP', () => {
      if (stopping) return;
      // Newest-wins with nothing to carry: however many HUPs arrive during a reload, one more follows it.
      reloads.latest('reload', undefined, () => (stopping ? undefined : reload())).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'SIGHUP: reload failed'));
    });
  });
}
