/**
 * What one fetch ends as. Expected failures are values, not exceptions (STYLE.md): the caller keeps
 * its last good data and counts `reason`, it never needs a try/catch around a download.
 */
export type FetchFailureReason =
  | 'timeout' // connect, headers, idle body, or the whole request's deadline
  | 'http-status' // a status other than 2xx/304 (after retries for 429/5xx)
  | 'too-large' // more than maxBytes on the wire or after decoding
  | 'decode' // a content-encoding we do not speak, or corrupt compressed data
  | 'redirect' // more redirects than maxRedirects
  | 'tls' // certificate or handshake failure (HTTPS is always verified)
  | 'network' // refused, reset, DNS, unreachable …
  | 'aborted'; // the caller's signal (daemon stopping)

export type FetchOutcome =
  | { kind: 'updated'; body: Buffer; etag?: string; lastModified?: string; status: number; attempts: number; wireBytes: number }
  | { kind: 'not-modified'; attempts: number }
  | { kind: 'failed'; reason: FetchFailureReason; error: string; status?: number; attempts: number };

export interface FetchRequest {
  url: string;
  /** Validators from the last good download: sent as If-None-Match / If-Modified-Since. */
  etag?: string;
  lastModified?: string;
  /** Deadline for the whole request, retries and redirects included. */
  timeoutMs?: number;
  /** Limit on the body after decoding (and on the wire). */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** The seam the blocklist takes (tests pass a fake; the daemon passes createFetcher().fetch). */
export type FetchFn = (req: FetchRequest) => Promise<FetchOutcome>;

/** The body grew past the limit; thrown inside the body pipeline to stop decompression early. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly where: 'wire' | 'decoded',
  ) {
    super(`body exceeds ${limit} bytes (${where})`);
    this.name = 'BodyTooLargeError';
  }
}

/** An unknown Content-Encoding: we will not guess at bytes we cannot decode. */
export class UnsupportedEncodingError extends Error {
  constructor(readonly encoding: string) {
    super(`unsupported content-encoding "${encoding}"`);
    this.name = 'UnsupportedEncodingError';
  }
}
