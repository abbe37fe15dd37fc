/**
 * The DNS front: UDP+TCP listeners that answer only the configured zones, through `resolve`.
 * This file is the capability's whole public surface; see README.md for behaviour and metrics.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Question, ZoneAnswer } from '../lib/dns-wire/types.js';

export { createDnsServer } from './server.js';
export { dnsConfigSchema, type DnsConfig } from './config.js';
export type { Question, ZoneAnswer } from '../lib/dns-wire/types.js';

export interface DnsServerOptions {
  /** UDP and TCP are bound on each, on the same port; port 0 = an ephemeral port free for both. */
  readonly listen: readonly { readonly host: string; readonly port: number }[];
  /** Lowercase, absolute: `['local.', '77.10.in-addr.arpa.']`. Longest suffix wins; others are REFUSED. */
  readonly zones: readonly string[];
  /** Seconds: TTL and MINIMUM of the SOA added to NXDOMAIN/NODATA (RFC 2308 §5). */
  readonly negativeTtl: number;
  /** RFC 7766 §6.2.3: a TCP connection that sent no whole message and got no reply this long is closed. */
  readonly tcpIdleTimeoutMs: number;
  /** A TCP message begun must be complete within this many ms (default 2000, the config default). */
  readonly tcpMessageTimeoutMs?: number;
  /** At the cap the longest-idle connection is closed to make room (see tcp-listener.ts). */
  readonly maxTcpConnections: number;
  /** UDP questions not answered within this many ms get TC=1 so the client retries over TCP; 0 = never. */
  readonly udpHandoffMs: number;
  /**
   * Answer one in-zone question (name case as asked, absolute). Never throws in normal use; if it
   * throws or rejects the client gets SERVFAIL. No timeout is applied here (the backend bounds
   * it); `signal` aborts when the server stops.
   */
  readonly resolve: (question: Question, zone: string, signal: AbortSignal) => Promise<ZoneAnswer>;
  readonly logger: Logger;
  /** Metrics are registered on this registry. */
  readonly registry: Registry;
}

export interface DnsServer {
  /** Binds every address; rejects with SidecarError('LISTEN_FAILED') naming the address, why, and what to do. */
  start(): Promise<void>;
  /** Aborts in-flight lookups, closes sockets. Idempotent. */
  stop(): Promise<void>;
  /** Actual bound addresses (ports resolved when 0 was asked for). */
  addresses(): { udp: { host: string; port: number }[]; tcp: { host: string; port: number }[] };
}
