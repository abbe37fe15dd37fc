import { parseConfig, readConfigJson } from '../config/index.js';
import { startDaemon } from '../daemon.js';
import { createLogger } from '../lib/log/logger.js';

/** `run`: load config, apply CLI overrides (validated like the file), start, stop cleanly on SIGTERM/SIGINT. */
export async function runCommand(opts: { file: string | undefined; listen: string[] | undefined; metrics: string | undefined }): Promise<number> {
  const raw = await readConfigJson(opts.file);
  const fromFile = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const block = (key: string): Record<string, unknown> => {
    const v = fromFile[key];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };
  // Overrides go into the JSON and through the same validation, so `--listen bogus` fails with the
  // same clear message (and a non-object file is still reported by the schema, not hidden here).
  const config = parseConfig(
    Array.isArray(raw) || typeof raw !== 'object' || raw === null
      ? raw
      : {
          ...fromFile,
          ...(opts.listen ? { dns: { ...block('dns'), listen: opts.listen } } : {}),
          ...(opts.metrics ? { metrics: { ...block('metrics'), listen: opts.metrics } } : {}),
        },
    opts.file ?? 'command line',
  );
  const logger = createLogger(config.log.level);
  const daemon = await startDaemon(config, logger);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
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
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // SIGHUP (`systemctl reload`): download the lists now (issue #3). Re-reading the config on HUP
    // is issue #7; until then changes to the file need a restart, and we say so.
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: refreshing lists now (config changes need a restart)');
      void daemon.refreshLists();
    });
  });
}
