import { networkInterfaces } from 'node:os';
import { formatAddress, parseAddress } from '../ip-prefix/index.js';
import { SOCKADDR_BYTES } from './mmsg-vector.js';

/**
 * A UDP peer as dgram's RemoteInfo has it, plus (when it came from recvmmsg) the kernel's own
 * struct sockaddr, so an answer goes back to exactly that address without a round trip through text.
 */
export interface UdpPeer {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  readonly size: number;
  /** The kernel's struct sockaddr_in6 as recvmmsg filled it in (IPv6 peers). */
  readonly sockaddr?: Buffer;
  /** An AF_INET peer's address as a big-endian number (with `port`, all of its sockaddr_in: no Buffer per datagram). */
  readonly ipv4?: number;
}

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * struct sockaddr_in / sockaddr_in6 (linux/in.h, linux/in6.h; sa_family in host order, a
 * little-endian host here), or null when the fast path should not take it (a scoped IPv6 address
 * given as text; an IPv6 address on a udp4 socket).
 */
export function encodeSockaddr(to: { readonly address: string; readonly port: number }, ipv6: boolean): Buffer | null {
  if (to.address.includes('%')) return null;
  const p = parseAddress(to.address);
  if (p === undefined) return null;
  if (!ipv6) {
    if (p.family !== 'ipv4') return null;
    const b = Buffer.alloc(16);
    writeSockaddrIn(b, 0, p.words[0] ?? 0, to.port);
    return b;
  }
  const b = Buffer.alloc(SOCKADDR_BYTES);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(to.port, 2);
  const w = p.family === 'ipv4' ? [0, 0, 0xffff, p.words[0] ?? 0] : Array.from(p.words);
  for (let k = 0; k < 4; k++) b.writeUInt32BE(w[k] ?? 0, 8 + 4 * k);
  return b;
}

/** struct sockaddr_in for `ipv4:port` written at `b[at, at + 16)` (sin_zero cleared). */
export function writeSockaddrIn(b: Buffer, at: number, ipv4: number, port: number): number {
  b.writeUInt16LE(AF_INET, at);
  b.writeUInt16BE(port, at + 2);
  b.writeUInt32BE(ipv4 >>> 0, at + 4);
  b.writeUInt32LE(0, at + 8);
  b.writeUInt32LE(0, at + 12);
  return 16;
}

/**
 * Address text of a sockaddr the kernel filled in, the way dgram's RemoteInfo spells it: dotted
 * IPv4, RFC 5952 IPv6 (an IPv4-mapped one as `::ffff:a.b.c.d`), `%<interface>` for a scoped one.
 * Cached by address bytes: a LAN has few clients, and formatting is per datagram otherwise.
 */
export class SockaddrNames {
  private readonly cache = new Map<string | number, string>();
  constructor(private readonly max = 4096) {}

  peer(b: Buffer, at: number, len: number, size: number): UdpPeer | undefined {
    const family = b.readUInt16LE(at);
    if (family === AF_INET && len >= 16) {
      const key = b.readUInt32BE(at + 4);
      let address = this.cache.get(key);
      if (address === undefined) address = this.remember(key, formatAddress('ipv4', [key], 0));
      return { address, family: 'IPv4', port: b.readUInt16BE(at + 2), size, ipv4: key };
    }
    if (family === AF_INET6 && len >= SOCKADDR_BYTES) {
      const key = b.toString('latin1', at + 8, at + 28); // address + scope id
      let address = this.cache.get(key);
      if (address === undefined) {
        const w = [0, 1, 2, 3].map((k) => b.readUInt32BE(at + 8 + 4 * k));
        const text = w[0] === 0 && w[1] === 0 && w[2] === 0xffff ? `::ffff:${formatAddress('ipv4', [w[3] ?? 0], 0)}` : formatAddress('ipv6', w, 0);
        const scope = b.readUInt32LE(at + 24);
        address = this.remember(key, scope === 0 ? text : `${text}%${interfaceName(scope)}`);
      }
      return { address, family: 'IPv6', port: b.readUInt16BE(at + 2), size, sockaddr: copyOut(b, at, SOCKADDR_BYTES) };
    }
    return undefined;
  }

  private remember(key: string | number, name: string): string {
    if (this.cache.size >= this.max) this.cache.clear();
    this.cache.set(key, name);
    return name;
  }
}

/** `b[at, at + n)` in a Buffer of its own (one allocation from Node's pool; `Buffer.from(subarray)` made two). */
export function copyOut(b: Buffer, at: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  b.copy(out, 0, at, at + n);
  return out;
}

/** Interface names by scope id, looked up once each (networkInterfaces() is a getifaddrs call: not per spoofed source). */
const scopes = new Map<number, string>();

function interfaceName(scope: number): string {
  let name = scopes.get(scope);
  if (name === undefined) {
    name = String(scope);
    for (const [n, infos] of Object.entries(networkInterfaces())) if (infos?.some((i) => i.family === 'IPv6' && i.scopeid === scope)) name = n;
    if (scopes.size >= 256) scopes.clear();
    scopes.set(scope, name);
  }
  return name;
}
