import { Agent, interceptors, type Dispatcher } from 'undici';
import { errorMessage } from '../../errors.js';
import { isDecodeError, readDecodedBody } from './decode-body.js';
import { BodyTooLargeError, type FetchFailureReason, type FetchOutcome, type FetchRequest } from './outcome.js';
import { RETRYABLE_STATUS, createRetryPolicy } from './retry-policy.js';

/**
 * HTTP(S) GET of list sources over undici 7 (8 needs Node 22): one keep-alive Agent, per request a
 * composition of undici's own redirect and retry interceptors, conditional requests, our own body
 * decoding with a decompressed-size limit, and every outcome returned as a value.
 */
export interface FetcherOptions {
  connectTimeoutMs?: number;
  /** Waiting for response headers, per attempt. */
  headersTimeoutMs?: number;
  /** Longest silence between body chunks, per attempt. */
  bodyTimeoutMs?: number;
  /** Default deadline for a whole request (retries and redirects included). */
  timeoutMs?: number;
  maxRetries?: number;
  retryMinDelayMs?: number;
  retryMaxDelayMs?: number;
  maxRedirects?: number;
  /** Default limit on decoded (and wire) bytes. */
  maxBytes?: number;
  userAgent?: string;
  /** Jitter source, [0, 1); tests pass a constant. */
  random?: () => number;
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: string }) => void;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

export interface Fetcher {
  fetch(req: FetchRequest): Promise<FetchOutcome>;
  close(): Promise<void>;
}

export function createFetcher(options: FetcherOptions = {}): Fetcher {
  const o = {
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    timeoutMs: 120_000,
    maxRetries: 3,
    retryMinDelayMs: 1_000,
    retryMaxDelayMs: 30_000,
    maxRedirects: 5,
    maxBytes: DEFAULT_MAX_BYTES,
    userAgent: 'unbound-sidecar',
    random: Math.random,
    ...options,
  };
  // TLS verification is undici's default (rejectUnauthorized: true); there is deliberately no switch.
  const agent = new Agent({ connect: { timeout: o.connectTimeoutMs }, keepAliveTimeout: 10_000 });

  async function fetchOnce(req: FetchRequest): Promise<FetchOutcome> {
    const timeoutMs = req.timeoutMs ?? o.timeoutMs;
    const maxBytes = req.maxBytes ?? o.maxBytes;
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort(new Error(`no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    const onCallerAbort = () => deadline.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (req.signal?.aborted) onCallerAbort();
    let attempts = 1;
    const signal = deadline.signal;
    // Composed per request so the retry policy sees this request's signal and counts its attempts;
    // compose() only wraps dispatch functions, the connection pool stays shared.
    const dispatcher: Dispatcher = agent.compose(
      interceptors.retry({
        maxRetries: o.maxRetries,
        statusCodes: [...RETRYABLE_STATUS],
        retry: createRetryPolicy({
          maxRetries: o.maxRetries,
          minDelayMs: o.retryMinDelayMs,
          maxDelayMs: o.retryMaxDelayMs,
          random: o.random,
          signal,
          onRetry: (info) => {
            attempts = info.attempt;
            o.onRetry?.({ url: req.url, ...info });
          },
        }),
      }),
      interceptors.redirect({ maxRedirections: o.maxRedirects }),
    );
    const headers: Record<string, string> = { 'accept-encoding': 'gzip, br, deflate', 'user-agent': o.userAgent };
    if (req.etag !== undefined) headers['if-none-match'] = req.etag;
    if (req.lastModified !== undefined) headers['if-modified-since'] = req.lastModified;
    const fail = (reason: FetchFailureReason, error: string, status?: number): FetchOutcome => ({
      kind: 'failed',
      reason,
      error,
      attempts,
      ...(status !== undefined ? { status } : {}),
    });
    try {
      const res = await dispatcher.request({
        origin: new URL(req.url).origin,
        path: pathOf(req.url),
        method: 'GET',
        headers,
        signal,
        headersTimeout: Math.min(o.headersTimeoutMs, timeoutMs),
        bodyTimeout: Math.min(o.bodyTimeoutMs, timeoutMs),
      });
      const status = res.statusCode;
      if (status === 304) {
        await res.body.dump();
        return { kind: 'not-modified', attempts };
      }
      if (status < 200 || status > 299) {
        await res.body.dump().catch(() => undefined);
        // A 3xx reaching us means the redirect interceptor gave up (limit reached or no Location).
        if (status >= 300 && status < 400) return fail('redirect', `redirect limit (${o.maxRedirects}) reached or no Location, status ${status}`, status);
        return fail('http-status', `HTTP ${status}`, status);
      }
      const encoding = header(res.headers, 'content-encoding');
      const length = Number(header(res.headers, 'content-length') ?? NaN);
      if (Number.isFinite(length) && length > maxBytes) {
        res.body.destroy();
        return fail('too-large', `content-length ${length} exceeds ${maxBytes} bytes`);
      }
      const { body, wireBytes } = await readDecodedBody(res.body, encoding, maxBytes, signal);
      const etag = header(res.headers, 'etag');
      const lastModified = header(res.headers, 'last-modified');
      return {
        kind: 'updated',
        body,
        status,
        attempts,
        wireBytes,
        ...(etag !== undefined ? { etag } : {}),
        ...(lastModified !== undefined ? { lastModified } : {}),
      };
    } catch (err) {
      if (timedOut) return fail('timeout', `no complete response within ${timeoutMs} ms`);
      if (req.signal?.aborted) return fail('aborted', 'aborted by caller');
      return classify(err, fail);
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  return {
    fetch: fetchOnce,
    close: () => agent.close(),
  };
}

function classify(err: unknown, fail: (r: FetchFailureReason, e: string, s?: number) => FetchOutcome): FetchOutcome {
  if (err instanceof BodyTooLargeError) return fail('too-large', err.message);
  if (isDecodeError(err)) return fail('decode', `cannot decode body: ${errorMessage(err)}`);
  const e = err as { code?: unknown; statusCode?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : '';
  if (code === 'UND_ERR_REQ_RETRY' && typeof e?.statusCode === 'number' && e.statusCode >= 300) {
    return fail('http-status', `HTTP ${e.statusCode} (retries exhausted)`, e.statusCode);
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return fail('timeout', errorMessage(err));
  }
  // undici refuses a redirect back to a URL it has already visited with an invalid-argument error.
  if (code === 'UND_ERR_INVALID_ARG' && /redirect/i.test(errorMessage(err))) return fail('redirect', errorMessage(err));
  if (TLS_CODE.test(code)) return fail('tls', `${code}: ${errorMessage(err)}`);
  return fail('network', code ? `${code}: ${errorMessage(err)}` : errorMessage(err));
}

function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
