import { loadConfig } from '../config/index.js';
import { parseConfig } from '../config/load.js';
import { startDaemon } from '../daemon.js';
import { createLogger } from '../lib/log/logger.js';

/** `run`: load config, apply CLI overrides (validated like the file), start, stop cleanly on SIGTERM/SIGINT. */
export async function runCommand(opts: { file: string | undefined; listen: string[] | undefined; metrics: string | undefined }): Promise<number> {
  const fromFile = await loadConfig(opts.file);
  // Overrides go through the same validation, so `--listen bogus` fails with the same clear message.
  const config = parseConfig(
    {
      ...fromFile,
      dns: { ...fromFile.dns, ...(opts.listen ? { listen: opts.listen } : {}) },
      metrics: { ...fromFile.metrics, ...(opts.metrics ? { listen: opts.metrics } : {}) },
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
    // SIGHUP's default action kills the process; reloading config is a later issue (#7), so for
    // now a HUP (e.g. from `systemctl reload`) is logged and ignored instead of taking DNS down.
    process.on('SIGHUP', () => logger.warn('SIGHUP: config reload is not supported yet; restart the service to apply changes'));
  });
}
