import type { LogFn, Logger } from 'pino';
import type { RecentError } from './status.js';

/**
 * The last N warnings and errors, for the status page and `unbound-sidecar status`. Bounded in
 * count and in message length: a flapping registry mirror must not grow the daemon's memory, and a
 * hostile error text (HTTP bodies end up in messages) must not bloat the status JSON.
 */
export interface RecentErrors {
  push(e: RecentError): void;
  /** Newest first. */
  list(): RecentError[];
  /**
   * A pino `hooks.logMethod` that copies warn and above into the buffer, then logs as usual:
   * `pino({ hooks: { logMethod: errors.logMethodHook() } })`. A hook, not a stream, because it
   * works the same with the pretty transport (a worker thread) and with a plain destination, and
   * because `this.bindings()` gives the child logger's `capability` for the `source` column.
   */
  logMethodHook(): (this: Logger, args: Parameters<LogFn>, method: LogFn, level: number) => void;
}

const MAX_MESSAGE = 500;
/** pino's numeric levels (pino docs "Logger Level"). */
const LEVELS: Record<number, RecentError['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };

export function createRecentErrors(capacity = 50, now: () => number = Date.now): RecentErrors {
  const ring: (RecentError | undefined)[] = new Array<RecentError | undefined>(capacity).fill(undefined);
  let next = 0;

  const self: RecentErrors = {
    push(e) {
      ring[next] = { ...e, source: clip(e.source, 64), message: clip(e.message, MAX_MESSAGE) };
      next = (next + 1) % capacity;
    },
    list() {
      const out: RecentError[] = [];
      for (let i = 1; i <= capacity; i++) {
        const e = ring[(next - i + capacity) % capacity];
        if (e) out.push(e);
      }
      return out;
    },
    logMethodHook() {
      return function hook(this: Logger, args, method, level) {
        const name = LEVELS[level >= 60 ? 60 : level >= 50 ? 50 : level >= 40 ? 40 : 0];
        if (name) {
          // Never let bookkeeping break logging: a weird argument shape is recorded as best we can.
          try {
            const bindings: unknown = this.bindings();
            self.push({ at: now(), level: name, source: sourceOf(bindings, args[0]), message: messageOf(args) });
          } catch {
            /* the log line itself still goes out below */
          }
        }
        method.apply(this, args);
      };
    },
  };
  return self;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && key in o ? (o as Record<string, unknown>)[key] : undefined;
}

function sourceOf(bindings: unknown, first: unknown): string {
  const c = field(bindings, 'capability') ?? field(first, 'capability');
  return typeof c === 'string' ? c : 'daemon';
}

/** pino call shapes: (msg, ...interp), (obj, msg?, ...interp), (err, msg?). */
function messageOf(args: readonly unknown[]): string {
  const [first, ...rest] = args;
  if (typeof first === 'string') return [first, ...rest.map(String)].join(' ');
  const msg = rest.filter((a) => typeof a === 'string').join(' ');
  const err = first instanceof Error ? first : field(first, 'err');
  const errText = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  if (msg && errText && !msg.includes(errText)) return `${msg}: ${errText}`;
  return msg || errText || '(no message)';
}
