import { z } from 'zod';
import { domainName, hostPort, nonNegativeInt, positiveInt } from '../config/common.js';

/** `dns` block: where the DNS front listens and which zones it answers. */
export const dnsConfigSchema = z
  .object({
    /** UDP and TCP are bound on each address. */
    listen: z.array(hostPort).min(1).default(['127.0.0.1:5335']),
    /** Zones answered; everything else is REFUSED (never an open resolver). */
    zones: z.array(domainName).min(1).default(['local.']),
    /** TTL and minimum of the SOA added to negative answers, seconds (RFC 2308 §5). */
    negativeTtl: nonNegativeInt.default(30),
    /** Idle timeout of TCP connections, ms (RFC 7766 §6.2.3). */
    tcpIdleTimeoutMs: positiveInt.default(10_000),
    /** Cap on simultaneously open TCP connections; beyond it new ones are closed at once. */
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
