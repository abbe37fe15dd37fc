import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * JSON lines for journald and log shippers; human-readable when a person is watching (stdout is
 * a TTY) — pino-pretty runs in pino's transport worker so formatting never blocks the DNS path.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true, fd: 1 | 2 = 1, hooks?: LoggerOptions['hooks']): Logger {
  if (pretty) {
    return pino({ level, ...(hooks ? { hooks } : {}), transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', destination: fd } } });
  }
  return pino({ level, ...(hooks ? { hooks } : {}), base: { service: 'unbound-sidecar' } }, pino.destination(fd));
}

/** For one-shot commands: their stdout is the result (zone lines, JSON), so logs go to stderr. */
export function createCliLogger(level = 'warn'): Logger {
  return createLogger(level, process.stderr.isTTY === true, 2);
}
