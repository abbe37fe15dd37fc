import { parseAddress } from '../ip-prefix/index.js';

/**
 * PROXY protocol version 2 header (binary), as specified in
 * https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt §2.2:
 *
 *   12-byte signature  \r\n\r\n\0\r\nQUIT\n
 *   ver_cmd            0x21 — version 2, command PROXY
 *   fam                0x11 TCP over IPv4, 0x12 UDP over IPv4, 0x21 TCP over IPv6, 0x22 UDP over IPv6
 *   len                2 bytes, network order: 12 (IPv4) or 36 (IPv6) address bytes follow
 *   addresses          src addr, dst addr, src port, dst port (network order)
 *
 * No TLVs: Unbound (util/proxy_protocol.c, `pp2_read_header`) skips them and needs none. On UDP
 * the header prefixes every datagram; on TCP it is sent once, before the first byte of the stream.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is sent as
 * IPv4 when both ends are, so Unbound's access-control sees the address the client has.
 */

export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** Words of an address; an IPv4-mapped IPv6 one comes back as IPv4. Throws on anything else (a bug: sockets report addresses). */
function words(address: string): { v4: boolean; words: Uint32Array } {
  const zone = address.indexOf('%');
  const p = parseAddress(zone >= 0 ? address.slice(0, zone) : address);
  if (p === undefined) throw new Error(`proxy-v2: not an IP address: ${address}`);
  if (p.family === 'ipv4') return { v4: true, words: p.words };
  const w = p.words;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { v4: true, words: w.subarray(3, 4) };
  return { v4: false, words: w };
}

/** 16 bytes for IPv6; an IPv4 address (when the other end is IPv6) is written IPv4-mapped. */
function writeAddress(a: { v4: boolean; words: Uint32Array }, asV6: boolean, out: Buffer, at: number): void {
  if (!asV6) {
    out.writeUInt32BE(a.words[0] ?? 0, at);
    return;
  }
  const w = a.v4 ? [0, 0, 0xffff, a.words[0] ?? 0] : a.words;
  for (let i = 0; i < 4; i++) out.writeUInt32BE(w[i] ?? 0, at + 4 * i);
}

export function proxyV2Header(transport: 'tcp' | 'udp', source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  const src = words(source.address);
  const dst = words(destination.address);
  const v4 = src.v4 && dst.v4;
  const len = v4 ? 12 : 36;
  const out = Buffer.allocUnsafe(16 + len);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21;
  out[13] = (v4 ? 0x10 : 0x20) | (transport === 'tcp' ? 0x01 : 0x02);
  out.writeUInt16BE(len, 14);
  const a = v4 ? 4 : 16;
  writeAddress(src, !v4, out, 16);
  writeAddress(dst, !v4, out, 16 + a);
  out.writeUInt16BE(source.port, 16 + 2 * a);
  out.writeUInt16BE(destination.port, 18 + 2 * a);
  return out;
}

/** §2.2.7: a TLV "to be ignored when parsed", for padding; type, 2-byte length, value. */
const PP2_TYPE_NOOP = 0x04;
/** A TLV is at least its type and length: a datagram can grow by 0 or by 3 bytes and more. */
export const PROXY_V2_MIN_PAD = 3;

/**
 * Grows the PROXYv2 datagram at `bytes[at, at + len)` to `to` bytes in place, with a NOOP TLV
 * (§2.2.7) between the addresses (and any TLVs) and the payload; the header's length field grows
 * with it, so a receiver skips the padding with the header (Unbound: `pp2_read_header` takes the
 * header as 16 + len bytes). What comes after the header is moved, not changed. False (nothing
 * written) when it cannot: not a PROXYv2 datagram, a growth of 1 or 2 bytes, or `to` past the
 * buffer.
 */
export function padProxyV2(bytes: Buffer, at: number, len: number, to: number): boolean {
  const pad = to - len;
  if (pad === 0) return true;
  if (pad < PROXY_V2_MIN_PAD || at + to > bytes.length || len < 16 || bytes[at + 12] !== 0x21) return false;
  const header = 16 + bytes.readUInt16BE(at + 14);
  if (header > len || header - 16 + pad > 0xffff) return false;
  bytes.copyWithin(at + header + pad, at + header, at + len);
  bytes[at + header] = PP2_TYPE_NOOP;
  bytes.writeUInt16BE(pad - PROXY_V2_MIN_PAD, at + header + 1);
  bytes.fill(0, at + header + PROXY_V2_MIN_PAD, at + header + pad);
  bytes.writeUInt16BE(header - 16 + pad, at + 14);
  return true;
}
