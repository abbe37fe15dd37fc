import { writeName } from './wire-name.js';

/**
 * A recursive query (RD=1) for one name and type, with an EDNS0 OPT record advertising 1232 bytes
 * (the DNS Flag Day 2020 value) so answers with many A/AAAA rarely come back truncated.
 * Throws NameError for a name that cannot be encoded.
 */
export function writeQuery(id: number, name: string, qtype: number, udpSize = 1232): Uint8Array {
  const buf = new Uint8Array(12 + 256 + 4 + 11);
  const dv = new DataView(buf.buffer);
  dv.setUint16(0, id & 0xffff);
  dv.setUint16(2, 0x0100); // RD
  dv.setUint16(4, 1); // QDCOUNT
  dv.setUint16(10, 1); // ARCOUNT: OPT
  let off = writeName(buf, 12, name);
  dv.setUint16(off, qtype);
  dv.setUint16(off + 2, 1); // IN
  off += 4;
  buf[off] = 0; // OPT owner: root (RFC 6891 §6.1.2)
  dv.setUint16(off + 1, 41);
  dv.setUint16(off + 3, udpSize);
  // extended rcode, version, flags (DO=0), rdlength: all zero
  return buf.slice(0, off + 11);
}
