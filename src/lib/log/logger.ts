import pino, { type Logger } from 'pino';

/**
 * JSON lines for journald and log shippers; human-readable when a person is watching (stdout is
 * a TTY) — pino-pretty runs in pino's transport worker so formatting never blocks the DNS path.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level, base: { service: 'unbound-sidecar' } });
}
