import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { BodyTooLargeError, UnsupportedEncodingError } from './outcome.js';

/**
 * Read a response body through its Content-Encoding chain with limits on both the wire bytes and
 * the decoded bytes. undici's `maxResponseSize` counts compressed bytes, so a 20 KB gzip bomb that
 * inflates to 1 GiB passes it; here the sink refuses the chunk that crosses `maxBytes` and the
 * pipeline tears the decompressor down — at most one zlib chunk (16 KiB) past the limit is produced.
 */
export async function readDecodedBody(body: Readable, contentEncoding: string | undefined, maxBytes: number, signal?: AbortSignal): Promise<{ body: Buffer; wireBytes: number }> {
  // RFC 9110 §8.4: codings are listed in the order applied, so undo them in reverse.
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
  const decoders = codings.map((c) => {
    switch (c) {
      case 'gzip':
      case 'x-gzip':
        return createGunzip();
      case 'br':
        return createBrotliDecompress();
      case 'deflate':
        return createInflate();
      default:
        throw new UnsupportedEncodingError(c);
    }
  });
  let wireBytes = 0;
  // Many empty gzip members decode to nothing but still arrive: bound the wire too.
  const wireCounter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      wireBytes += chunk.length;
      if (wireBytes > maxBytes) cb(new BodyTooLargeError(maxBytes, 'wire'));
      else cb(null, chunk);
    },
  });
  const chunks: Buffer[] = [];
  let decoded = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      decoded += chunk.length;
      if (decoded > maxBytes) return cb(new BodyTooLargeError(maxBytes, 'decoded'));
      chunks.push(chunk);
      cb();
    },
  });
  await pipeline([body, wireCounter, ...decoders, sink], signal ? { signal } : {});
  return { body: Buffer.concat(chunks, decoded), wireBytes };
}

/** zlib and brotli stream errors carry codes like Z_DATA_ERROR, Z_BUF_ERROR, ERR__ERROR_FORMAT_PADDING_1. */
export function isDecodeError(err: unknown): boolean {
  if (err instanceof UnsupportedEncodingError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__'));
}
