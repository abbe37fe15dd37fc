import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';
import type { HotSeries } from '../lib/metrics/hot-metrics.js';
import type { UdpBatchSender } from '../lib/net/udp-batch.js';
import { rcodeName } from '../lib/dns-wire/types.js';

export type Transport = 'udp' | 'tcp';
/** Why a client message got no answer from us at all. */
export type DropReason = 'over-inflight' | 'client-over-inflight' | 'malformed' | 'response' | 'late-answer';

/**
 * DNS front metrics, registered on the injected registry (each test builds a fresh one).
 * Per-answer metrics are hot series (lib/metrics/hot-metrics.ts: plain numbers read at scrape
 * time; prom-client's own inc/observe hash their labels on every call, bound children included,
 * which at tens of thousands of answers a second was 5 % of the front's CPU), and the in-flight
 * gauge is read at scrape time.
 */
/** One open UDP socket of the front and the kernel's drop count for it (/proc/net/udp). */
export interface SocketDrops {
  readonly inode: number;
  /** unbound: a socket of Unbound's on the upstream port (not the front's). */
  readonly role: 'listener' | 'upstream' | 'unbound';
  readonly drops: number;
}

/** Datagrams the upstream socket sent, by how (the sender's counts): monotonic. */
export type UpstreamSends = Pick<ReturnType<UdpBatchSender['counts']>, 'segmented' | 'batched' | 'fallback'>;

export function createFrontMetrics(registry: Registry, sources: { inflight(): number; tcpUnsentBytes(): number; kernelDrops(): readonly SocketDrops[]; upstreamSends(): UpstreamSends }) {
  const m = capabilityMetrics(registry, 'dns_front');
  /** Each socket's count at the last scrape: the counter grows by the difference (a closed socket stops adding). */
  const seenDrops = new Map<number, number>();
  const seenSends = { segmented: 0, sendmmsg: 0, dgram: 0 };
  const queries = m.hotCounter({
    name: 'queries_total',
    help: "Answers sent to clients by transport and rcode (Unbound's relayed ones and the front's own REFUSED/SERVFAIL).",
    labelNames: ['transport', 'rcode'] as const,
  });
  const byRcode = { udp: new Map<number, HotSeries>(), tcp: new Map<number, HotSeries>() };
  const upstreamDuration = m.hotHistogram({
    name: 'upstream_duration_seconds',
    help: 'From a query forwarded to Unbound to its answer back.',
    labelNames: ['transport'] as const,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3],
  });
  const busyPolls = m.counter({
    name: 'busy_polls_total',
    help: "Queries that went to Unbound alone on an idle front, whose answer the front then waited for awake (busyPollMicros): answered (Unbound's answer, or its port's ICMP refusal, came within the wait) or expired (the answer came the usual way).",
    labelNames: ['outcome'] as const,
  });
  const slowReaders = m.counter({
    name: 'tcp_slow_readers_total',
    help: 'TCP clients not reading their answers: paused (half of tcpMaxBufferedBytes unsent: their queries are not read until they read) or closed (an answer found more than tcpMaxBufferedBytes unsent).',
    labelNames: ['action'] as const,
  });
  return {
    answered(transport: Transport, msg: Uint8Array): void {
      // The header's 4-bit RCODE: a bounded label (extended rcodes ride in OPT, RFC 6891 §6.1.3).
      const rcode = (msg[3] ?? 0) & 0x0f;
      let c = byRcode[transport].get(rcode);
      if (c === undefined) {
        c = queries.series({ transport, rcode: rcodeName(rcode) });
        byRcode[transport].set(rcode, c);
      }
      c.inc();
    },
    upstreamDuration: { udp: upstreamDuration.series({ transport: 'udp' }), tcp: upstreamDuration.series({ transport: 'tcp' }) },
    busyPolls: { answered: busyPolls.labels('answered'), expired: busyPolls.labels('expired') },
    upstreamTimeouts: m.counter({
      name: 'upstream_timeouts_total',
      help: 'Queries Unbound did not answer within upstreamTimeoutMs (or could not take: refused, connection lost); the client got SERVFAIL.',
      labelNames: ['transport'] as const,
    }),
    insertWait: m
      .hotHistogram({
        name: 'insert_wait_seconds',
        help: 'How long a listed answer waited for its addresses to be in the kernel set before it was relayed (deadline misses included, at the deadline).',
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
      })
      .series({}),
    deadlineMisses: m.counter({
      name: 'insert_deadline_misses_total',
      help: 'Listed answers whose insertion outlived insertDeadlineMs, by what the client got: fail-open (the answer) or fail-closed (SERVFAIL).',
      labelNames: ['action'] as const,
    }),
    insertUnavailable: m.counter({
      name: 'insert_unavailable_total',
      help: 'Listed answers relayed without their addresses in the set because insertion cannot work now: set-missing (held by set-sync for its retry) or failed (nftables refused, e.g. no CAP_NET_ADMIN).',
      labelNames: ['reason'] as const,
    }),
    refused: m.counter({ name: 'refused_clients_total', help: 'Queries from clients outside front.allow, answered REFUSED.', labelNames: ['transport'] as const }),
    dropped: m.counter({
      name: 'dropped_total',
      help: "Messages not answered: over-inflight (maxInflight reached), client-over-inflight (that client's maxInflightPerClient reached), malformed (shorter than a DNS header; malformed queries get FORMERR instead), response (QR=1: never reflected), late-answer (Unbound answered after the client got SERVFAIL).",
      labelNames: ['reason'] as const,
    }),
    tcpConnections: m.gauge({ name: 'tcp_connections', help: 'Client TCP connections open now (each with at most one upstream connection).' }),
    tcpSlowReaders: { paused: slowReaders.labels('paused'), closed: slowReaders.labels('closed') },
    tcpUnsent: m.gauge({
      name: 'tcp_unsent_bytes',
      help: "Answer bytes written to client TCP connections that the kernel has not taken yet (the clients' receive windows and the send buffers are full), summed over connections.",
      collect() {
        this.set(sources.tcpUnsentBytes());
      },
    }),
    kernelDrops: m.counter({
      name: 'udp_kernel_drops_total',
      help: "Datagrams the kernel dropped because a socket's receive queue was full, by socket: listener and upstream are the front's (raise front.receiveBufferBytes, or net.core.rmem_max without CAP_NET_ADMIN), unbound is Unbound's on the upstream port (raise its so-rcvbuf). From /proc/net/udp's drops column.",
      labelNames: ['socket'] as const,
      collect() {
        const open = sources.kernelDrops();
        for (const inode of seenDrops.keys()) if (!open.some((s) => s.inode === inode)) seenDrops.delete(inode);
        for (const s of open) {
          const delta = s.drops - (seenDrops.get(s.inode) ?? 0);
          seenDrops.set(s.inode, s.drops);
          if (delta > 0) this.inc({ socket: s.role }, delta);
        }
      },
    }),
    upstreamSends: m.counter({
      name: 'udp_upstream_datagrams_total',
      help: 'Queries sent to Unbound over UDP, by how: segmented (a batch as one UDP GSO message, front.udpSegmentation), sendmmsg (a batch, one datagram each), dgram (alone through Node, e.g. the send buffer was full).',
      labelNames: ['how'] as const,
      collect() {
        const now = sources.upstreamSends();
        const next = { segmented: now.segmented, sendmmsg: now.batched - now.segmented, dgram: now.fallback };
        for (const how of ['segmented', 'sendmmsg', 'dgram'] as const) {
          // inc by 0 too: every series exists from the first scrape (a new sender's counts restart lower).
          this.inc({ how }, Math.max(0, next[how] - seenSends[how]));
          seenSends[how] = next[how];
        }
      },
    }),
    inflight: m.gauge({
      name: 'inflight_queries',
      help: 'Queries forwarded to Unbound and not answered yet.',
      collect() {
        this.set(sources.inflight());
      },
    }),
  };
}

export type FrontMetrics = ReturnType<typeof createFrontMetrics>;
