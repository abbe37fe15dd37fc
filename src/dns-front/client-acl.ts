import { BlockList } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { parseAllowEntry } from './config.js';
import { formatAddress } from '../lib/ip-prefix/index.js';
import { cidrOf } from '../lib/mdns/interfaces.js';

/**
 * Who may ask the front. `allow` given: exactly those prefixes. Absent: loopback (127.0.0.0/8,
 * ::1/128) plus, for every listen address, the network of each interface address equal to it
 * (`os.networkInterfaces()` `cidr`, e.g. listen 10.77.0.1 on br-lan 10.77.0.1/24 → 10.77.0.0/24).
 * A wildcard listen address (0.0.0.0, ::) or one on no interface at start adds nothing: that
 * would be every network including the WAN's, so those setups must list `allow` (a warning says so).
 *
 * Outsiders get REFUSED, not silence: that is what Unbound's own `access-control: … refuse` (its
 * default for everything but localhost) does, and RFC 8906 §3.1 asks servers to answer rather
 * than leave clients retrying. The reply is header + question only (no EDNS, no records), never
 * larger than the query, so it amplifies nothing for a spoofed source.
 */

export interface ClientAcl {
  allows(address: string): boolean;
  /** The effective prefixes, for the log and the status page. */
  readonly prefixes: readonly string[];
  /** Listen addresses that contributed no network (wildcard, or on no interface). */
  readonly unmatched: readonly string[];
}

export function buildClientAcl(listenHosts: readonly string[], allow: readonly string[] | undefined, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): ClientAcl {
  const list = new BlockList();
  const prefixes: string[] = [];
  const unmatched: string[] = [];
  const add = (cidr: string): void => {
    const e = parseAllowEntry(cidr);
    if (e === undefined || prefixes.includes(cidr)) return;
    list.addRange(formatAddress(e.family, e.first, 0), formatAddress(e.family, e.last, 0), e.family);
    prefixes.push(cidr);
  };
  if (allow !== undefined) {
    for (const a of allow) add(a);
  } else {
    add('127.0.0.0/8');
    add('::1/128');
    for (const host of listenHosts) {
      const bare = host.split('%')[0] ?? host;
      const nets = Object.values(interfaces).flatMap((infos) => (infos ?? []).filter((i) => i.address === bare && i.cidr !== null).map((i) => cidrOf(i)));
      if (nets.length === 0) unmatched.push(host);
      for (const n of nets) add(n);
    }
  }
  // BlockList.check builds a native SocketAddress per call (it showed in the front's profile);
  // a LAN has few client addresses, so decisions are cached, boundedly.
  const decided = new Map<string, boolean>();
  return {
    allows: (address) => {
      let ok = decided.get(address);
      if (ok === undefined) {
        const bare = address.split('%')[0] ?? address;
        ok = list.check(bare, bare.includes(':') ? 'ipv6' : 'ipv4');
        if (decided.size >= 4096) decided.clear();
        decided.set(address, ok);
      }
      return ok;
    },
    prefixes,
    unmatched,
  };
}
