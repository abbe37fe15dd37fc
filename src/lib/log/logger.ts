import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * JSON lines for journald and log shippers; human-readable when a person is watching (stdout is
 * a TTY) and pino-pretty is installed — pino-pretty runs in pino's transport worker so formatting
 * never blocks the DNS path. It is a devDependency: a production install (`npm install -g .`,
 * `npm ci --omit=dev`, the Nix package) has no pino-pretty, and `pino({ transport })` then throws
 * "unable to determine transport target for pino-pretty" — every command on a terminal died with
 * it — so without it the terminal gets plain JSON.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true, fd: 1 | 2 = 1, hooks?: LoggerOptions['hooks']): Logger {
  const target = pretty ? prettyTarget() : undefined;
  if (target !== undefined) {
    return pino({ level, ...(hooks ? { hooks } : {}), transport: { target, options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', destination: fd } } });
  }
  return pino({ level, ...(hooks ? { hooks } : {}), base: { service: 'unbound-sidecar' } }, pino.destination(fd));
}

/** For one-shot commands: their stdout is the result (zone lines, JSON), so logs go to stderr. */
export function createCliLogger(level = 'warn'): Logger {
  return createLogger(level, process.stderr.isTTY === true, 2);
}

/**
 * pino-pretty's path, or undefined when it is not installed. pino resolves a bare target with
 * `createRequire(caller).resolve` (pino/lib/transport.js, `fixTarget`) and throws when that fails;
 * resolving it here first, and handing pino the absolute path, asks the same question without
 * the throw.
 */
function prettyTarget(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
}

/**
 * Process warnings (MaxListenersExceededWarning, deprecations) as JSON log lines: Node's own
 * printer writes multi-line plain text to stderr (lib/internal/process/warning.js, `onWarning`,
 * installed as a 'warning' listener at startup), which journald would store as lines no JSON
 * reader can parse. Replaces that printer for this process; the warning itself is kept, with its
 * stack, at `warn`.
 */
export function logProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    logger.warn({ warning: w.name, ...(w.code !== undefined ? { code: w.code } : {}), stack: w.stack }, `process warning: ${w.name}: ${w.message}`);
  });
}
