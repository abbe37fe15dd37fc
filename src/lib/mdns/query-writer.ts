import { writeName } from '../dns-wire/wire-name.js';

/**
 * A one-shot multicast DNS query (RFC 6762 §5.1): one question, class IN, QU bit clear. It goes out
 * from an ephemeral port, which makes it a "legacy unicast" query (§6.7): responders answer by
 * unicast to that port, repeat our ID and question, and cap TTLs at 10 s.
 *
 * Written here rather than with dns-packet (multicast-dns's codec): it splits names on every dot and
 * writes label text verbatim, so `My\032Printer._ipp._tcp.local` or a label containing `\.` would go
 * out wrong.
 */
export function writeQuery(id: number, name: string, type: number): Uint8Array {
  const buf = new Uint8Array(12 + 256 + 4);
  buf[0] = (id >> 8) & 0xff;
  buf[1] = id & 0xff;
  // Flags 0: QR=0, OPCODE=0, RD=0 (RFC 6762 §18.2–18.6: all zero in mDNS queries).
  buf[5] = 1; // QDCOUNT
  const end = writeName(buf, 12, name);
  buf[end] = (type >> 8) & 0xff;
  buf[end + 1] = type & 0xff;
  buf[end + 2] = 0;
  buf[end + 3] = 1; // IN, unicast-response bit clear (§5.4: meaningless from a non-5353 port)
  return buf.slice(0, end + 4);
}
