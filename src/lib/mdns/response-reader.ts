import { lowerByte, MAX_LABEL, MAX_NAME } from '../dns-wire/wire-name.js';

/**
 * Reads the answer section of a multicast DNS response into records whose rdata is raw wire bytes
 * with every name uncompressed — what the DNS front sends on, for any record type.
 *
 * Why not multicast-dns's own decoding (dns-packet): it turns names into dotted strings, so a label
 * containing a dot ("Printer v1.2._ipp._tcp.local", common in DNS-SD instance names) or non-UTF-8
 * bytes cannot be re-encoded losslessly, and known types come back as objects rather than bytes.
 *
 * One linear pass, bounded: at most `maxAnswers` records, names at most 255 bytes, compression
 * pointers must go strictly backwards from the previous jump (so no loop can be built) and at most
 * 128 jumps per name. Anything malformed drops the whole datagram (RFC 6762 §18: silently ignore).
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

export type ResponseRead =
  | { readonly kind: 'response'; readonly id: number; readonly answers: readonly MdnsAnswer[] }
  | { readonly kind: 'drop'; readonly reason: ResponseDropReason };

const HEADER = 12;
const FLUSH_BIT = 0x8000;
const MAX_JUMPS = 128;

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
  if (msg.length < HEADER) return { kind: 'drop', reason: 'short' };
  const u16 = (o: number): number => ((msg[o] as number) << 8) | (msg[o + 1] as number);
  const flags = u16(2);
  if ((flags & 0x8000) === 0) return { kind: 'drop', reason: 'not-response' };
  // RFC 6762 §18.3 / §18.11: responses with a non-zero OPCODE or RCODE MUST be silently ignored.
  if (((flags >> 11) & 0xf) !== 0) return { kind: 'drop', reason: 'bad-opcode' };
  if ((flags & 0xf) !== 0) return { kind: 'drop', reason: 'bad-rcode' };
  const qdcount = u16(4);
  const ancount = Math.min(u16(6), maxAnswers);
  try {
    let off = HEADER;
    for (let i = 0; i < qdcount; i++) {
      off = skipName(msg, off) + 4;
      if (off > msg.length) throw MALFORMED;
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
      answers.push({
        owner: lower(owner.wire),
        type,
        class: klass & ~FLUSH_BIT,
        cacheFlush: (klass & FLUSH_BIT) !== 0,
        ttl: rawTtl > 0x7fffffff ? 0 : rawTtl,
        rdata: readRdata(msg, type, start, end),
      });
      off = end;
    }
    return { kind: 'response', id: u16(0), answers };
  } catch (err) {
    if (err === MALFORMED) return { kind: 'drop', reason: 'malformed' };
    throw err;
  }
}

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

/**
 * The (possibly compressed) name at `offset` as uncompressed wire bytes, and the offset after it in
 * place. `limit` bounds the in-place part (a name inside rdata must not run past RDLENGTH).
 */
export function readName(msg: Uint8Array, offset: number, limit = msg.length): { wire: Uint8Array; next: number } {
  const out = new Uint8Array(MAX_NAME);
  let len = 0;
  let off = offset;
  let next = -1;
  let lowestJump = offset; // every pointer must aim below the previous one: no loops
  let jumps = 0;
  for (;;) {
    const bound = next < 0 ? limit : msg.length;
    if (off >= bound) throw MALFORMED;
    const b = msg[off] as number;
    if (b === 0) {
      out[len++] = 0;
      if (next < 0) next = off + 1;
      return { wire: out.slice(0, len), next };
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= bound) throw MALFORMED;
      const target = ((b & 0x3f) << 8) | (msg[off + 1] as number);
      if (target >= lowestJump || ++jumps > MAX_JUMPS) throw MALFORMED;
      if (next < 0) next = off + 2;
      lowestJump = target;
      off = target;
      continue;
    }
    // 0x40 and 0x80 label types are not defined for mDNS (RFC 6891 §5 retired 0x40).
    if (kind !== 0 || b > MAX_LABEL) throw MALFORMED;
    if (off + 1 + b > bound || len + 1 + b + 1 > MAX_NAME) throw MALFORMED;
    out.set(msg.subarray(off, off + 1 + b), len);
    len += 1 + b;
    off += 1 + b;
  }
}

/** Like readName without building the name (questions are only skipped): the offset after it in place. */
function skipName(msg: Uint8Array, offset: number): number {
  let off = offset;
  for (;;) {
    if (off >= msg.length) throw MALFORMED;
    const b = msg[off] as number;
    if (b === 0) return off + 1;
    if ((b & 0xc0) === 0xc0) {
      // The target is validated when (if ever) a name is read through it; here the pointer ends the name.
      if (off + 1 >= msg.length || (((b & 0x3f) << 8) | (msg[off + 1] as number)) >= off) throw MALFORMED;
      return off + 2;
    }
    if (b > MAX_LABEL) throw MALFORMED;
    off += 1 + b;
  }
}

function lower(wire: Uint8Array): Uint8Array {
  for (let i = 0; i < wire.length; i++) wire[i] = lowerByte(wire[i] as number);
  return wire;
}
