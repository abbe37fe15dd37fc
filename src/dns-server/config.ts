import { z } from 'zod';
import { domainName, hostPort, nonNegativeInt, positiveInt } from '../config/common.js';

/**
 * What the sidecar may be authoritative for: its answers carry AA and an SOA, and Unbound forwards
 * each zone to it, so a zone such as `com.` would hand every .com name to multicast DNS. Allowed:
 * `local.` and names under it (RFC 6762 §3, §12), `home.arpa.` and under it (RFC 8375), and the
 * reverse zones of LAN space — private (RFC 1918), shared (RFC 6598), link-local (RFC 3927, RFC 4291
 * §2.5.6) and unique local (RFC 4193) — at or below the octet / nibble boundary.
 */
const LAN_V4: readonly (readonly [number, number, number])[] = [
  // [first octet, second octet from, to]; 0-255: the whole /8, which a zone of one octet may name.
  [10, 0, 255],
  [172, 16, 31],
  [192, 168, 168],
  [169, 254, 254],
  [100, 64, 127],
];

function numericLabels(labels: readonly string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const l of labels) {
    if (!re.test(l)) break;
    out.push(l);
  }
  return out;
}

/** `undefined` when the sidecar may answer for `zone` (lowercase, absolute), else what is wrong. */
export function zoneProblem(zone: string): string | undefined {
  if (zone === 'local.' || zone.endsWith('.local.') || zone === 'home.arpa.' || zone.endsWith('.home.arpa.')) return undefined;
  const labels = zone.slice(0, -1).split('.').reverse();
  if (zone.endsWith('.in-addr.arpa.')) {
    const octets = numericLabels(labels.slice(2), /^(0|[1-9]\d{0,2})$/).map(Number);
    const [a, b] = octets;
    if (octets.length >= 1 && octets.every((o) => o <= 255) && LAN_V4.some(([x, lo, hi]) => a === x && ((lo === 0 && hi === 255) || (b !== undefined && b >= lo && b <= hi)))) return undefined;
  } else if (zone.endsWith('.ip6.arpa.')) {
    const n = numericLabels(labels.slice(2), /^[0-9a-f]$/).join('');
    if (/^f[cd]/.test(n) || /^fe[89ab]/.test(n)) return undefined;
  }
  return `"${zone}" is not a zone the sidecar may answer for: it is authoritative only for "local." and names under it, "home.arpa." and names under it, and reverse zones of LAN space (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7, fe80::/10) such as "77.10.in-addr.arpa." or "d.f.ip6.arpa."`;
}

const servedZone = domainName.superRefine((zone, ctx) => {
  const problem = zoneProblem(zone);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Default of `tcpMessageTimeoutMs`: a whole message (≤ 64 KiB) from a LAN or loopback peer takes milliseconds. */
export const TCP_MESSAGE_TIMEOUT_MS = 2_000;

/** `dns` block: where the DNS front listens and which zones it answers. */
export const dnsConfigSchema = z
  .object({
    /** UDP and TCP are bound on each address. */
    listen: z.array(hostPort).min(1).default(['127.0.0.1:5335']),
    /** Zones answered; everything else is REFUSED (never an open resolver). */
    zones: z.array(servedZone).min(1).default(['local.']),
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
