import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';
import { MALFORMED_REASONS, type MalformedReason } from '../lib/dns-wire/request-reader.js';
import { rcodeName, typeName } from '../lib/dns-wire/types.js';

/**
 * dns-server metrics, registered on the injected registry (each test builds a fresh one).
 *
 * `requests_total` is counted in a plain Float64Array on the query path and copied into
 * prom-client when scraped (`collect`): prom-client's `inc(labels)` hashes the label object on
 * every call, which is measurable at the query rates the benchmark drives. Label values come from
 * bounded sets (configured zones + "none", a fixed qtype list + "other", known rcodes + "other"),
 * so a flood of odd queries cannot grow the series count.
 */
export interface DnsMetrics {
  /** `zone`: index into the configured zones, -1 for none. */
  request(zone: number, qtype: number, rcode: number, seconds: number): void;
  malformed(reason: MalformedReason): void;
  tcpConnections(open: number): void;
  /** A TCP connection we closed (or refused) on our own initiative, and why. */
  tcpClosed(reason: TcpCloseReason): void;
  /** A UDP question answered TC=1 because its lookup outlasted `dns.udpHandoffMs`. */
  handoff(zone: number, qtype: number): void;
}

/**
 * Why the server closed a TCP connection: `idle-timeout` (nothing useful for `tcpIdleTimeoutMs`),
 * `message-timeout` (a message begun and not finished within `tcpMessageTimeoutMs`), `evicted`
 * (the longest-idle one, to make room at `maxTcpConnections`), `refused` (at the cap with every
 * connection waiting for an answer).
 */
export type TcpCloseReason = 'idle-timeout' | 'message-timeout' | 'evicted' | 'refused';
export const TCP_CLOSE_REASONS: readonly TcpCloseReason[] = ['idle-timeout', 'message-timeout', 'evicted', 'refused'];

/** qtypes that get their own label value; everything else is "other". */
const QTYPES = [1, 2, 5, 6, 12, 13, 15, 16, 28, 33, 64, 65, 255] as const; // A NS CNAME SOA PTR HINFO MX TXT AAAA SRV SVCB HTTPS ANY
const QTYPE_LABELS = [...QTYPES.map((t) => (t === 64 ? 'SVCB' : typeName(t))), 'other'];
const RCODES = [0, 1, 2, 3, 4, 5, 16] as const;
const RCODE_LABELS = [...RCODES.map((r) => (r === 16 ? 'BADVERS' : rcodeName(r))), 'other'];

const qtypeIndex = new Int16Array(65536).fill(QTYPES.length);
QTYPES.forEach((t, i) => (qtypeIndex[t] = i));

/** 0.1 ms … 2 s: the cached path sits in the first buckets, Avahi timeouts in the last. */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

export function createDnsMetrics(registry: Registry, zones: readonly string[]): DnsMetrics {
  const zoneLabels = [...zones, 'none'];
  const nq = QTYPE_LABELS.length;
  const nr = RCODE_LABELS.length;
  const counts = new Float64Array(zoneLabels.length * nq * nr);
  // Namespace `dns`, not `dns_server`: the names predate the capability rule and dashboards and
  // alerts query them (exceptions in the metric-name lint).
  const m = capabilityMetrics(registry, 'dns');

  m.counter({
    name: 'requests_total',
    help: 'DNS requests answered, by matched zone ("none" if off-zone), query type and response code.',
    labelNames: ['zone', 'qtype', 'rcode'],
    collect() {
      this.reset();
      for (let i = 0; i < counts.length; i++) {
        const n = counts[i] as number;
        if (n === 0) continue;
        const r = i % nr;
        const q = Math.floor(i / nr) % nq;
        const z = Math.floor(i / (nr * nq));
        this.inc({ zone: zoneLabels[z] ?? 'none', qtype: QTYPE_LABELS[q] ?? 'other', rcode: RCODE_LABELS[r] ?? 'other' }, n);
      }
    },
  });
  const duration = m.histogram({
    name: 'request_duration_seconds',
    help: 'Time from receiving a DNS request to handing its reply to the socket.',
    buckets: DURATION_BUCKETS,
  });
  const malformed = m.counter({
    name: 'malformed_total',
    help: 'DNS messages that failed validation (answered FORMERR, or dropped when not even a header).',
    labelNames: ['reason'],
  });
  for (const reason of MALFORMED_REASONS) malformed.inc({ reason }, 0);
  const tcp = m.gauge({
    name: 'tcp_connections',
    help: 'Open TCP connections to the DNS front.',
  });

  const tcpClosed = m.counter({
    name: 'tcp_connections_closed_total',
    help: 'TCP connections the server closed or refused itself, by reason (idle-timeout, message-timeout, evicted, refused).',
    labelNames: ['reason'],
  });
  for (const reason of TCP_CLOSE_REASONS) tcpClosed.inc({ reason }, 0);

  const handoffs = m.counter({
    name: 'udp_handoffs_total',
    help: 'UDP questions answered TC=1 (retry over TCP) because the lookup took longer than dns.udpHandoffMs; the TCP retry is counted in requests_total.',
    labelNames: ['zone', 'qtype'],
  });

  const zoneNone = zones.length;
  return {
    request(zone, qtype, rcode, seconds) {
      const z = zone >= 0 && zone < zoneNone ? zone : zoneNone;
      const q = qtypeIndex[qtype] ?? QTYPES.length;
      let r = RCODES.indexOf(rcode as (typeof RCODES)[number]);
      if (r < 0) r = RCODES.length;
      counts[(z * nq + q) * nr + r] = (counts[(z * nq + q) * nr + r] as number) + 1;
      duration.observe(seconds);
    },
    malformed(reason) {
      malformed.inc({ reason });
    },
    tcpConnections(open) {
      tcp.set(open);
    },
    tcpClosed(reason) {
      tcpClosed.inc({ reason });
    },
    handoff(zone, qtype) {
      const z = zone >= 0 && zone < zoneNone ? zone : zoneNone;
      handoffs.inc({ zone: zoneLabels[z] ?? 'none', qtype: QTYPE_LABELS[qtypeIndex[qtype] ?? QTYPES.length] ?? 'other' });
    },
  };
}
