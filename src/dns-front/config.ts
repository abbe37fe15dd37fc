import { z } from 'zod';
import { hostPort, nonNegativeInt, positiveInt } from '../config/common.js';
import { parseEntry, type ParsedEntry } from '../lib/ip-prefix/index.js';

/**
 * `10.77.0.0/24`, `fd01::/64`, or a bare address (a /32 or /128), read by the parser the lists'
 * entries go through (lib/ip-prefix); undefined when not one. Ranges (`a-b`) and padding are that
 * parser's extras for list data, not prefixes. An IPv6 zone (`fe80::1%br-lan/64`) is accepted and
 * ignored, as node:net's BlockList did with it.
 */
export function parseAllowEntry(s: string): ParsedEntry | undefined {
  const t = s.replace(/%[^/]+/, '');
  if (t.includes('-') || t.trim() !== t) return undefined;
  const e = parseEntry(t);
  return e.kind === 'entry' ? e : undefined;
}

/**
 * `front` block: the LAN's resolver address. The front forwards every query to Unbound (with a
 * PROXYv2 header so Unbound still sees the real client) and, for answers under a learning list,
 * writes their addresses into the learned sets before it relays the answer. Absent = no front.
 */
export const dnsFrontConfigSchema = z
  .object({
    /** UDP and TCP are bound on each address, e.g. `["10.77.0.1:53", "[fd01::1]:53"]`. */
    listen: z.array(hostPort).min(1),
    /** Unbound's interface whose port is its `proxy-protocol-port` (loopback). */
    upstream: hostPort.default('127.0.0.1:5301'),
    /**
     * Send each query with a PROXYv2 header (Unbound ≥ 1.17 `proxy-protocol-port`): Unbound's
     * access-control, logging, dnstap and rate limits see the LAN client, not the front.
     * false only for an upstream without proxy-protocol support (then Unbound sees 127.0.0.1).
     */
    proxyProtocol: z.boolean().default(true),
    /**
     * Client prefixes the front answers (CIDR). Default: loopback and the prefixes of the listen
     * addresses' own interfaces' networks as configured (see dns-front/README.md); everyone
     * else gets REFUSED — the front is never an open resolver. Given, it replaces the default
     * (loopback is allowed only if listed).
     */
    allow: z.array(z.string().refine((s) => parseAllowEntry(s) !== undefined, { message: 'expected an address or CIDR prefix, e.g. "10.77.0.0/24" or "fd01::/64"' })).optional(),
    /**
     * How long an answer may wait for its addresses to reach the kernel, ms; then it goes out anyway
     * (fail-open). 0 = submit and never wait.
     */
    insertDeadlineMs: nonNegativeInt.default(50),
    /** Past the deadline answer SERVFAIL instead of the answer (the client retries; never a WAN first packet). */
    failClosed: z.boolean().default(false),
    /** Unbound gave no answer within this, ms: SERVFAIL to the client. */
    upstreamTimeoutMs: positiveInt.default(3_000),
    /** Cap on simultaneously open client TCP connections (each has one upstream connection). */
    maxTcpConnections: positiveInt.default(256),
    /** Idle timeout of client TCP connections, ms (RFC 7766 §6.2.3). */
    tcpIdleTimeoutMs: positiveInt.default(10_000),
    /**
     * Bytes of answers the front holds for one TCP client that does not read them (once the
     * kernel's send buffer is full, Node buffers every further write in the process). From half of
     * it the client's queries are not read until it reads; an answer that finds more than this
     * unsent closes the connection. Bounds a connection's unsent answers to this + one message.
     */
    tcpMaxBufferedBytes: positiveInt.min(4096).default(256 * 1024),
    /** Cap on UDP queries waiting for Unbound at once; beyond it new ones are dropped and counted. */
    maxInflight: positiveInt.default(4096),
    /**
     * Cap per client address on UDP queries waiting for Unbound: one client flooding queries Unbound
     * is slow to answer (a dead domain, a random-subdomain attack) cannot take every slot of
     * maxInflight from the rest of the LAN. Beyond it that client's new queries are dropped and counted.
     */
    maxInflightPerClient: positiveInt.default(1024),
    /**
     * UDP datagrams in and out in batches (recvmmsg/sendmmsg through koffi, see
     * lib/net/udp-batch.ts): about twice the queries per second under load. false = dgram's
     * one-syscall-per-datagram path (also what runs where koffi or libc cannot load).
     */
    udpBatching: z.boolean().default(true),
    /**
     * With udpBatching and proxyProtocol: a batch of queries to Unbound leaves as ONE segmented
     * message (UDP GSO, udp(7) UDP_SEGMENT; each query's PROXYv2 header padded with a NOOP TLV to
     * the batch's largest), crossing the kernel's stack once instead of once per query. Turned
     * off by itself where the kernel refuses it. false = one datagram each.
     */
    udpSegmentation: z.boolean().default(true),
    /**
     * Receive buffer of each UDP socket (listeners and the one to Unbound), bytes; 0 = the system
     * default (net.core.rmem_default, ~200 queries). What a burst can queue while the front is busy:
     * beyond it the kernel drops queries and clients retry seconds later. The kernel counts up to
     * twice this per socket (socket(7)), only while the queue is full. Set with SO_RCVBUFFORCE
     * (CAP_NET_ADMIN), else capped by net.core.rmem_max (a warning says so).
     */
    receiveBufferBytes: nonNegativeInt.default(1024 * 1024),
    /**
     * A query that reaches an idle front goes to Unbound alone; the front then waits for the
     * answer awake for up to this many microseconds (recvmmsg in a loop, like the kernel's
     * net.core.busy_poll) instead of sleeping until it arrives: a sleeping thread's wake-up is
     * what a lone query pays twice over on a VM. Unbound answers a cache hit within it; past it
     * (a name Unbound must resolve) the answer comes the usual way. Longer is worse, not safer: on
     * a small machine the wait holds a CPU that the resolution itself needs (bench/front-latency:
     * 250 us put +1.1 to +2.0 ms on the p99 of fresh answers, 100 us nothing). CPU: at most this
     * much per query that arrives alone (never under load). 0 = always sleep.
     */
    busyPollMicros: nonNegativeInt.max(5000).default(100),
  })
  .strict();

export type DnsFrontConfig = z.infer<typeof dnsFrontConfigSchema>;
