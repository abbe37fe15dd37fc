import { isIP } from 'node:net';

/**
 * `host:port` text, the one way in and out: config listen/upstream addresses, the CLI's view of
 * them, and error messages. The host is a literal IP (we bind or connect it, never resolve it);
 * an IPv6 host is bracketed (RFC 3986 §3.2.2), so `[::1]:5335`.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `127.0.0.1:5335` or `[::1]:5335`; undefined for anything else (names, a missing or >65535 port). */
export function parseHostPort(s: string): HostPort | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:]+):(\d{1,5})$/.exec(s);
  if (!m?.[1] || !m[2]) return undefined;
  const port = Number(m[2]);
  if (!isIP(m[1]) || port > 65535) return undefined;
  return { host: m[1], port };
}

/** The text of one the schema has validated already: a miss is a bug, so it throws. */
export function validatedHostPort(s: string): HostPort {
  const hp = parseHostPort(s);
  if (!hp) throw new Error(`unvalidated address ${s}`);
  return hp;
}

/** `10.0.0.1:53`, `[fd01::1]:53`: what parseHostPort reads back. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Where a client on this machine reaches a listener bound to `host`: a wildcard bind over loopback. */
export function connectHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}
