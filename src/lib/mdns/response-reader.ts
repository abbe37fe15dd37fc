import { decompressName, HEADER_SIZE, skipName } from '../dns-wire/compressed-name.js';
import { lowerByte, MAX_NAME } from '../dns-wire/wire-name.js';

/**
 * Reads the answer section of a multicast DNS response into records whose rdata is raw wire bytes
 * with every name uncompressed — what the DNS front sends on, for any record type.
 *
 * Why not multicast-dns's own decoding (dns-packet): it turns names into dotted strings, so a label
 * containing a dot ("Printer v1.2._ipp._tcp.local", common in DNS-SD instance names) or non-UTF-8
 * bytes cannot be re-encoded losslessly, and known types come back as objects rather than bytes.
 *
 * One linear pass, bounded: at most `maxAnswers` records, and names read under the loop and length
 * guard of dns-wire/compressed-name.ts (the dnstap reader uses the same one). Anything malformed
 * drops the whole datagram (RFC 6762 §18: silently ignore).
 */

export interface MdnsAnswer {
  /** Owner name, uncompressed wire form, ASCII-lowercased (RFC 6762 §16: names compare case-insensitively). */
  readonly owner: Uint8Array;
  readonly type: number;
  /** Class without the cache-flush bit. */
  readonly class: number;
  /** The top bit of the class field (RFC 6762 §10.2). */
  readonly cacheFlush: boolean;
  /** Seconds; 0 is a goodbye (RFC 6762 §10.1). */
  readonly ttl: number;
  /** Raw rdata, names uncompressed. */
  readonly rdata: Uint8Array;
}

/** Bounded set of reasons (a metric label). */
export type ResponseDropReason = 'short' | 'not-response' | 'bad-opcode' | 'bad-rcode' | 'malformed';

export type ResponseRead = { readonly kind: 'response'; readonly id: number; readonly answers: readonly MdnsAnswer[] } | { readonly kind: 'drop'; readonly reason: ResponseDropReason };

const FLUSH_BIT = 0x8000;

/**
 * Where names sit inside rdata, for the types whose rdata may carry compressed names (RFC 6762
 * §18.14, RFC 3597 §4: only these "well-known" types; newer types never compress, so their rdata is
 * copied as is). A number is that many fixed bytes; bytes after the layout are copied raw.
 */
type Field = number | 'name';
const NAME: readonly Field[] = ['name'];
const RDATA_LAYOUT = new Map<number, readonly Field[]>([
  [2, NAME], // NS
  [3, NAME], // MD
  [4, NAME], // MF
  [5, NAME], // CNAME
  [6, ['name', 'name', 20]], // SOA
  [7, NAME], // MB
  [8, NAME], // MG
  [9, NAME], // MR
  [12, NAME], // PTR
  [14, ['name', 'name']], // MINFO
  [15, [2, 'name']], // MX
  [17, ['name', 'name']], // RP
  [18, [2, 'name']], // AFSDB
  [21, [2, 'name']], // RT
  [26, [2, 'name', 'name']], // PX
  [33, [6, 'name']], // SRV
  [36, [2, 'name']], // KX
  [39, NAME], // DNAME
  [47, NAME], // NSEC: next domain name, then the type bitmap (copied raw)
]);

class Malformed extends Error {}
/** One instance, thrown everywhere: junk is the common case on a hostile LAN, and a stack trace per packet is not free. */
const MALFORMED = new Malformed('malformed mDNS response');

/** `msg` as received; never throws. */
export function readResponse(msg: Uint8Array, maxAnswers = 256): ResponseRead {
  if (msg.length < HEADER_SIZE) return { kind: 'drop', reason: 'short' };
  const u16 = (o: number): number => ((msg[o] as number) << 8) | (msg[o + 1] as number);
  const flags = u16(2);
  if ((flags & 0x8000) === 0) return { kind: 'drop', reason: 'not-response' };
  // RFC 6762 §18.3 / §18.11: responses with a non-zero OPCODE or RCODE MUST be silently ignored.
  if (((flags >> 11) & 0xf) !== 0) return { kind: 'drop', reason: 'bad-opcode' };
  if ((flags & 0xf) !== 0) return { kind: 'drop', reason: 'bad-rcode' };
  const qdcount = u16(4);
  const ancount = Math.min(u16(6), maxAnswers);
  try {
    let off = HEADER_SIZE;
    for (let i = 0; i < qdcount; i++) {
      // Questions are only skipped; a pointer ends the name (and must point backwards).
      const end = skipName(msg, off, msg.length);
      if (end < 0 || end + 4 > msg.length) throw MALFORMED;
      off = end + 4;
    }
    const answers: MdnsAnswer[] = [];
    for (let i = 0; i < ancount; i++) {
      const owner = readName(msg, off);
      off = owner.next;
      if (off + 10 > msg.length) throw MALFORMED;
      const type = u16(off);
      const klass = u16(off + 2);
      // RFC 2181 §8: a TTL with the top bit set is treated as zero.
      const rawTtl = (((msg[off + 4] as number) << 24) >>> 0) + ((msg[off + 5] as number) << 16) + u16(off + 6);
      const rdlength = u16(off + 8);
      const start = off + 10;
      const end = start + rdlength;
      if (end > msg.length) throw MALFORMED;
      off = end;
      // An address of the wrong size is no address (RFC 1035 §3.4.1, RFC 3596 §2.2): skipped, never relayed.
      if ((type === RR_A && rdlength !== 4) || (type === RR_AAAA && rdlength !== 16)) continue;
      answers.push({
        owner: lower(owner.wire),
        type,
        class: klass & ~FLUSH_BIT,
        cacheFlush: (klass & FLUSH_BIT) !== 0,
        ttl: rawTtl > 0x7fffffff ? 0 : rawTtl,
        rdata: readRdata(msg, type, start, end),
      });
    }
    return { kind: 'response', id: u16(0), answers };
  } catch (err) {
    if (err === MALFORMED) return { kind: 'drop', reason: 'malformed' };
    throw err;
  }
}

const RR_A = 1;
const RR_AAAA = 28;

function readRdata(msg: Uint8Array, type: number, start: number, end: number): Uint8Array {
  const layout = RDATA_LAYOUT.get(type);
  if (layout === undefined) return msg.slice(start, end);
  const parts: Uint8Array[] = [];
  let off = start;
  for (const field of layout) {
    if (field === 'name') {
      const n = readName(msg, off, end);
      parts.push(n.wire);
      off = n.next;
    } else {
      if (off + field > end) throw MALFORMED;
      parts.push(msg.subarray(off, off + field));
      off += field;
    }
  }
  parts.push(msg.subarray(off, end));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const scratch = new Uint8Array(MAX_NAME);

/**
 * The (possibly compressed) name at `offset` as uncompressed wire bytes (a copy, case kept), and
 * the offset after it in place. `limit` bounds the in-place part (RDLENGTH for a name in rdata).
 */
function readName(msg: Uint8Array, offset: number, limit = msg.length): { wire: Uint8Array; next: number } {
  const n = decompressName(msg, offset, scratch, limit);
  if (n.kind !== 'name') throw MALFORMED;
  return { wire: scratch.slice(0, n.length), next: n.end };
}

function lower(wire: Uint8Array): Uint8Array {
  for (let i = 0; i < wire.length; i++) wire[i] = lowerByte(wire[i] as number);
  return wire;
}
