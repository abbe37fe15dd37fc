import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { cmpWords, parseAddress, parseEntry, WORDS } from '../ip-prefix/index.js';

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
  return PRIVATE_V4.some((c) => inCidr(address, c));
}
const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'];

/** fc00::/7, RFC 4193. */
export function isUlaV6(address: string): boolean {
  return inCidr(address, 'fc00::/7');
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocalV6(address: string): boolean {
  return inCidr(address, 'fe80::/10');
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

/** `address` inside `cidr` (host bits in `cidr` ignored, scope suffixes dropped), both by the list-entry parser. */
export function inCidr(address: string, cidr: string): boolean {
  const net = parseEntry(cidr.replace(/%[^/]*/, ''));
  const a = parseAddress(stripScope(address));
  if (net.kind !== 'entry' || a?.family !== net.family) return false;
  const w = WORDS[a.family];
  return cmpWords(net.first, 0, a.words, 0, w) <= 0 && cmpWords(a.words, 0, net.last, 0, w) <= 0;
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
