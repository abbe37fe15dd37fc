import { z } from 'zod';
import { domainName, hostPort, nonNegativeInt, positiveInt } from '../config/common.js';

/** Default of `tcpMessageTimeoutMs`: a whole message (≤ 64 KiB) from a LAN or loopback peer takes milliseconds. */
export const TCP_MESSAGE_TIMEOUT_MS = 2_000;

/** `dns` block: where the DNS front listens and which zones it answers. */
export const dnsConfigSchema = z
  .object({
    /** UDP and TCP are bound on each address. */
    listen: z.array(hostPort).min(1).default(['127.0.0.1:5335']),
    /** Zones answered; everything else is REFUSED (never an open resolver). */
    zones: z.array(domainName).min(1).default(['local.']),
    /** TTL and minimum of the SOA added to negative answers, seconds (RFC 2308 §5). */
    negativeTtl: nonNegativeInt.default(30),
    /**
     * Idle timeout of TCP connections, ms (RFC 7766 §6.2.3): no whole message received and no
     * reply sent for this long. Bytes of an unfinished message do not reset it.
     */
    tcpIdleTimeoutMs: positiveInt.default(10_000),
    /**
     * A TCP message whose first length byte arrived must be complete within this, ms, or the
     * connection is closed (a slow-loris client). Unbound writes each query whole.
     */
    tcpMessageTimeoutMs: positiveInt.default(TCP_MESSAGE_TIMEOUT_MS),
    /**
     * Cap on simultaneously open TCP connections. At the cap a new connection closes the one idle
     * longest (nothing in flight); only when every one waits for an answer is the new one refused.
     */
    maxTcpConnections: positiveInt.default(256),
    /**
     * A UDP question whose answer is not ready after this many ms gets an empty TC=1 reply and the
     * resolver asks again over TCP, where it waits for the answer instead of retransmitting (see
     * udp-handoff.ts). Below Unbound's 50 ms minimum retransmit timeout; 0 = never hand off.
     */
    udpHandoffMs: nonNegativeInt.max(10_000).default(25),
  })
  .strict();

export type DnsConfig = z.infer<typeof dnsConfigSchema>;
