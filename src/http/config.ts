import { z } from 'zod';
import { hostPort, positiveInt } from '../config/common.js';

/**
 * Defaults for a router: Prometheus keeps one or two connections, a browser on the status page
 * about six. 64 leaves the unit's LimitNOFILE (8192) to DNS over TCP (256), mDNS sockets, nft,
 * downloads and snapshot writes, with room for a scrape storm.
 */
export const HTTP_LIMITS = {
  maxConnections: 64,
  /** A client must send its whole request head within this (node's headersTimeout), ms. */
  headersTimeoutMs: 10_000,
  /** ...and the whole request within this (requestTimeout), ms. */
  requestTimeoutMs: 10_000,
  /** An idle keep-alive connection is closed after this (keepAliveTimeout), ms; Prometheus scrapes every 15 s or more. */
  keepAliveTimeoutMs: 5_000,
  /** A connection with no bytes either way for this long is destroyed (socket timeout), ms. */
  idleTimeoutMs: 30_000,
} as const;

/** `metrics` block: the HTTP listener for /metrics, /healthz, /readyz and the status page. */
export const httpConfigSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:9335'),
    /** Connections open at once; at the cap the one idle longest is closed for the newcomer. */
    maxConnections: positiveInt.default(HTTP_LIMITS.maxConnections),
  })
  .strict();

export type HttpConfig = z.infer<typeof httpConfigSchema>;
