import { connectHost, parseHostPort } from '../lib/net/host-port.js';
import type { Config } from '../config/schema.js';

/**
 * Unbound's built-in local zones for private and special reverse ranges (unbound.conf(5),
 * "local-zone" defaults). On exactly one of these, `nodefault` removes the default; on a
 * subzone of one (77.10.in-addr.arpa.), `transparent` lets the forward through.
 */
const UNBOUND_DEFAULT_REVERSE_ZONES = new Set([
  '10.in-addr.arpa.',
  ...Array.from({ length: 16 }, (_, i) => `${16 + i}.172.in-addr.arpa.`),
  '168.192.in-addr.arpa.',
  '254.169.in-addr.arpa.',
  '64.100.in-addr.arpa.',
  '127.in-addr.arpa.',
  'd.f.ip6.arpa.',
  '8.e.f.ip6.arpa.',
  '9.e.f.ip6.arpa.',
  'a.e.f.ip6.arpa.',
  'b.e.f.ip6.arpa.',
]);

function isReverseZone(zone: string): boolean {
  return zone.endsWith('.in-addr.arpa.') || zone.endsWith('.ip6.arpa.');
}

/** `127.0.0.1@5335` for the first listen address (a wildcard bind is reached over loopback). */
function forwardAddr(config: Config): string {
  const first = config.dns.listen[0];
  const hp = first === undefined ? undefined : parseHostPort(first);
  if (!hp) return '127.0.0.1@5335';
  return `${connectHost(hp.host)}@${hp.port}`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

/**
 * The Unbound configuration that forwards the sidecar's zones to it — byte for byte the snippet in
 * the README for `local.` + `77.10.in-addr.arpa.` (a test holds it to that).
 */
export function renderUnboundSnippet(config: Config): string {
  const addr = forwardAddr(config);
  const lines = ['server:', `${pad('  do-not-query-localhost: no', 38)}# otherwise Unbound refuses to forward to 127.0.0.1`];
  config.dns.zones
    .filter((z) => !isReverseZone(z))
    .forEach((zone, i) => {
      const name = zone.replace(/\.$/, '');
      const line = `  domain-insecure: "${name}"`;
      lines.push(i === 0 ? `${pad(line, 38)}# the signed root proves \`${name}\` does not exist; without this answers are bogus` : line);
    });
  config.dns.zones.filter(isReverseZone).forEach((zone, i) => {
    const mode = UNBOUND_DEFAULT_REVERSE_ZONES.has(zone) ? 'nodefault' : 'transparent';
    const line = `  local-zone: "${zone}" ${mode}`;
    if (i > 0) return lines.push(line);
    const col = line.length + 1;
    lines.push(
      `${line} # one per LAN reverse zone: Unbound answers RFC 1918 reverse zones`,
      `${' '.repeat(col)}#   itself by default; \`transparent\` on a subzone lets the forward through`,
      `${' '.repeat(col)}#   (\`nodefault\` works only on the exact default zone, e.g. 10.in-addr.arpa.)`,
    );
  });
  if (config.front) lines.push(...frontLines(config.front));
  for (const zone of config.dns.zones) lines.push('forward-zone:', `  name: "${zone}"`, `  forward-addr: ${addr}`);
  return `${lines.join('\n')}\n`;
}

/**
 * With the DNS front, Unbound listens on loopback only: plainly for the router itself (and the
 * sidecar's own lookups), and on the front's upstream port with `proxy-protocol-port`, where
 * every query carries a PROXYv2 header (UDP and TCP since Unbound 1.17, unbound.conf(5)).
 * access-control then sees the real client — and also checks the front's own loopback address
 * (https://github.com/NLnetLabs/unbound/issues/760), so loopback is allowed as well.
 */
function frontLines(front: NonNullable<Config['front']>): string[] {
  const up = parseHostPort(front.upstream);
  const host = up?.host ?? '127.0.0.1';
  const port = up?.port ?? 5301;
  const out = [
    `${pad('  interface: 127.0.0.1', 38)}# the router itself and the sidecar's own lookups`,
    '  interface: ::1',
    `${pad(`  interface: ${host}@${port}`, 38)}# the DNS front's upstream: every query carries PROXYv2`,
    `  proxy-protocol-port: ${port}`,
    `${pad('  so-rcvbuf: 1m', 38)}# the front hands Unbound bursts: room for ~1000 queries (net.core.rmem_max ≥ 1m unless root)`,
    `${pad('  access-control: 127.0.0.0/8 allow', 38)}# Unbound checks the proxy's own address too`,
    '  access-control: ::1/128 allow',
  ];
  if (front.allow === undefined) out.push('  # access-control: <each LAN prefix> allow   (front.allow is not set: list the prefixes the front admits)');
  else for (const p of front.allow) out.push(`  access-control: ${p} allow`);
  return out;
}
