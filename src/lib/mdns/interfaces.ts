import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/**
 * Which interfaces the native querier sends on. Pure selection over a snapshot (`SystemInterface[]`),
 * so tests feed fake lists; `readSystemInterfaces()` takes the snapshot from the OS.
 */

/** One interface as the OS reports it. `flags` from /sys/class/net/IF/flags (undefined when unreadable). */
export interface SystemInterface {
  readonly name: string;
  readonly flags: number | undefined;
  readonly addresses: readonly NetworkInterfaceInfo[];
}

/** One socket to open: an interface and a family. */
export interface QueryTarget {
  readonly ifname: string;
  readonly family: 4 | 6;
  /** IPv4: the address the socket binds (replies come back to it). IPv6: the link-local address. */
  readonly address: string;
  /** The interface's prefixes of this family (`10.77.0.1/24`), for the on-link check of replies. */
  readonly cidrs: readonly string[];
}

export interface InterfaceSelection {
  readonly targets: readonly QueryTarget[];
  /** Interfaces looked at and not used, with why (logged at start so a silent LAN is explicable). */
  readonly skipped: readonly { readonly ifname: string; readonly reason: string }[];
}

// <linux/if.h>
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

/**
 * `configured` (mdns.interfaces) names the interfaces outright; any address family they carry is
 * used. Otherwise: every interface that is up, multicast-capable, not loopback, and has an RFC 1918
 * or 169.254/16 IPv4 address or a ULA (fc00::/7) IPv6 address. IPv6 link-local alone does not
 * qualify an interface: every IPv6 interface has one, the WAN included, and mDNS must not leak
 * LAN names to it (nor ask the ISP's link about them).
 */
export function selectInterfaces(system: readonly SystemInterface[], configured?: readonly string[]): InterfaceSelection {
  const targets: QueryTarget[] = [];
  const skipped: { ifname: string; reason: string }[] = [];
  const byName = new Map(system.map((i) => [i.name, i]));
  const candidates = configured ?? system.map((i) => i.name);
  for (const ifname of candidates) {
    const iface = byName.get(ifname);
    if (iface === undefined) {
      skipped.push({ ifname, reason: 'not present or has no address' });
      continue;
    }
    const why = unusable(iface, configured !== undefined);
    if (why !== undefined) {
      skipped.push({ ifname, reason: why });
      continue;
    }
    const v4 = iface.addresses.filter((a) => a.family === 'IPv4');
    const v6 = iface.addresses.filter((a) => a.family === 'IPv6');
    // Prefer a private address as the IPv4 source: it is the one LAN responders consider on-link.
    const v4Source = v4.find((a) => isPrivateV4(a.address)) ?? v4[0];
    if (v4Source) targets.push({ ifname, family: 4, address: v4Source.address, cidrs: v4.map(cidrOf) });
    // IPv6 mDNS is link-scoped (ff02::fb): it needs the interface's link-local address.
    const linkLocal = v6.find((a) => isLinkLocalV6(a.address));
    if (linkLocal) targets.push({ ifname, family: 6, address: stripScope(linkLocal.address), cidrs: v6.map(cidrOf) });
    if (!v4Source && !linkLocal) skipped.push({ ifname, reason: 'no IPv4 address and no IPv6 link-local address' });
  }
  return { targets, skipped };
}

function unusable(iface: SystemInterface, explicit: boolean): string | undefined {
  if (iface.addresses.some((a) => a.internal) || (iface.flags !== undefined && (iface.flags & IFF_LOOPBACK) !== 0)) return 'loopback';
  if (iface.flags !== undefined && (iface.flags & IFF_UP) === 0) return 'down';
  if (iface.flags !== undefined && (iface.flags & IFF_MULTICAST) === 0) return 'not multicast-capable';
  if (explicit) return undefined;
  const lanLike = iface.addresses.some((a) => (a.family === 'IPv4' ? isPrivateV4(a.address) : isUlaV6(a.address)));
  return lanLike ? undefined : 'no private (RFC 1918, 169.254/16, ULA) address; list it in mdns.interfaces to use it';
}

/** RFC 1918 and RFC 3927 (link-local) IPv4. */
export function isPrivateV4(address: string): boolean {
  const o = v4Octets(address);
  if (!o) return false;
  const [a, b] = o;
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
}

/** fc00::/7, RFC 4193. */
export function isUlaV6(address: string): boolean {
  return isIPv6(stripScope(address)) && /^f[cd]/i.test(stripScope(address));
}

/** fe80::/10. */
export function isLinkLocalV6(address: string): boolean {
  return isIPv6(stripScope(address)) && /^fe[89ab]/i.test(stripScope(address));
}

export function stripScope(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

/**
 * RFC 6762 §11: replies must come from the local link. IPv4: inside one of the interface's
 * subnets (or 169.254/16). IPv6: link-local, or inside one of the interface's prefixes.
 */
export function isOnLink(source: string, target: QueryTarget): boolean {
  const addr = stripScope(source);
  if (target.family === 4) {
    if (!isIPv4(addr)) return false;
    return addr.startsWith('169.254.') || target.cidrs.some((c) => inCidr(addr, c));
  }
  if (!isIPv6(addr)) return false;
  return isLinkLocalV6(addr) || target.cidrs.some((c) => inCidr(addr, c));
}

/** An interface's network as CIDR (host bits may stay set; a scope suffix is dropped). */
export function cidrOf(a: NetworkInterfaceInfo): string {
  return a.cidr ?? `${stripScope(a.address)}/${a.family === 'IPv4' ? 32 : 128}`;
}

function v4Octets(address: string): [number, number, number, number] | undefined {
  if (!isIPv4(address)) return undefined;
  const p = address.split('.').map(Number);
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0, p[3] ?? 0];
}

function toBytes(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(v4Octets(address) ?? []);
  if (!isIPv6(address)) return undefined;
  const [head = '', tail] = address.split('::');
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').flatMap((w) => (w.includes('.') ? v4Words(w) : [parseInt(w, 16)])));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

function v4Words(dotted: string): number[] {
  const o = v4Octets(dotted) ?? [0, 0, 0, 0];
  return [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
}

export function inCidr(address: string, cidr: string): boolean {
  const [net = '', lenText = ''] = cidr.split('/');
  const a = toBytes(stripScope(address));
  const n = toBytes(stripScope(net));
  const len = Number(lenText);
  if (!a || !n || a.length !== n.length || !Number.isInteger(len)) return false;
  for (let bit = 0; bit < len; bit += 8) {
    const mask = len - bit >= 8 ? 0xff : (0xff << (8 - (len - bit))) & 0xff;
    if (((a[bit / 8] ?? 0) & mask) !== ((n[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** The OS snapshot: `os.networkInterfaces()` (libuv lists interfaces that are up and running) plus flags. */
export function readSystemInterfaces(): SystemInterface[] {
  return Object.entries(networkInterfaces()).map(([name, addresses]) => ({ name, flags: readFlags(name), addresses: addresses ?? [] }));
}

function readFlags(ifname: string): number | undefined {
  // os.networkInterfaces() has no flags; sysfs does (hex, e.g. "0x1003" = UP|BROADCAST|MULTICAST).
  if (!/^[\w.:-]+$/.test(ifname)) return undefined;
  try {
    const n = parseInt(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8').trim(), 16);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
