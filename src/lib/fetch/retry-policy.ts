import type { RetryHandler } from 'undici';

/**
 * The `retry` callback for undici's retry interceptor (lib/handler/retry-handler.js). undici's
 * default backs off exponentially but without jitter; every router on a fleet fires its hourly
 * refresh at the same minute, so we add it (half fixed, half random: "equal jitter" from the AWS
 * architecture blog "Exponential Backoff And Jitter"), stop waiting when the request is aborted,
 * and also retry the timeouts undici leaves out of its default errorCodes.
 */

/** Network trouble worth another try. TLS failures and 4xx are not: they will fail the same way. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN', // resolver not up yet at boot
  'ETIMEDOUT',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
export const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface RetryPolicyOptions {
  /** Retries after the first attempt. */
  maxRetries: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** [0, 1) — a seam so tests are deterministic. */
  random: () => number;
  signal: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

export function backoffDelay(retry: number, o: Pick<RetryPolicyOptions, 'minDelayMs' | 'maxDelayMs' | 'random'>): number {
  const cap = Math.min(o.maxDelayMs, o.minDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(cap / 2 + (o.random() * cap) / 2);
}

function retryAfterMs(headers: unknown): number | undefined {
  const h = (headers as Record<string, unknown> | undefined)?.['retry-after'];
  if (typeof h !== 'string') return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function createRetryPolicy(o: RetryPolicyOptions): RetryHandler.RetryCallback {
  return (err, { state }, cb) => {
    const e = err as Error & { code?: string; statusCode?: number; headers?: unknown };
    const retryable = e.statusCode !== undefined && e.code === 'UND_ERR_REQ_RETRY' ? RETRYABLE_STATUS.has(e.statusCode) : e.code !== undefined && RETRYABLE_CODES.has(e.code);
    if (o.signal.aborted || !retryable || state.counter > o.maxRetries) {
      cb(err);
      return;
    }
    // Honour Retry-After (RFC 9110 §10.2.3) but never wait past our own cap.
    const delayMs = Math.min(o.maxDelayMs, retryAfterMs(e.headers) ?? backoffDelay(state.counter, o));
    o.onRetry?.({ attempt: state.counter + 1, delayMs, error: e.message });
    const onAbort = () => {
      clearTimeout(timer);
      cb(err);
    };
    const timer = setTimeout(() => {
      o.signal.removeEventListener('abort', onAbort);
      cb(null);
    }, delayMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
  };
}
