import { OPT_RR_SIZE, writeOpt, type OptReply } from './edns.js';
import type { ResourceRecord } from './types.js';
import { lowerByte, NoRoomError, writeName } from './wire-name.js';

/**
 * Encode a response (RFC 1035 §4.1) straight into bytes: no dns2 `Packet` objects (its writer
 * keeps one JS array element per *bit*), rdata copied raw so any record type works (RFC 3597 §4),
 * and the question copied byte for byte from the request, so the 0x20 case pattern a resolver
 * randomised comes back unchanged (draft-vixie-dnsext-dns0x20; Unbound checks it).
 */

export interface ResponseSpec {
  readonly id: number;
  /** Header bytes 2–3 of the request: opcode, RD and CD are echoed, everything else is ours. */
  readonly requestFlags: number;
  /** Authoritative answer: set for answers from our zones. */
  readonly aa: boolean;
  /** Full response code; values > 15 need `opt` (the high 8 bits ride in its TTL). */
  readonly rcode: number;
  /** The request; when given, its question [12, questionEnd) is echoed and QDCOUNT = 1. */
  readonly request?: Uint8Array;
  readonly questionEnd?: number;
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  /** Present iff the request carried an OPT (RFC 6891 §7: reply with one, never without being asked). */
  readonly opt?: OptReply | undefined;
  /** Largest message allowed (UDP limit, or 65535 over TCP). Above it: TC=1 and no records. */
  readonly maxSize: number;
  /** Prepend the 2-byte TCP length (RFC 1035 §4.2.2), avoiding a second copy for TCP. */
  readonly lengthPrefix: boolean;
  /** TC=1 and no records whatever the size: "ask again over TCP" (the slow-answer hand-off). */
  readonly truncate?: boolean;
}

const MAX_MESSAGE = 65535;

// One scratch buffer: writing is synchronous, so it is never shared between two responses, and the
// caller gets an exact-size copy (small copies come from Node's pool). +2 for the TCP prefix.
const scratch = Buffer.allocUnsafe(MAX_MESSAGE + 2);

class Overflow extends Error {}

export function writeResponse(spec: ResponseSpec): Buffer {
  const base = spec.lengthPrefix ? 2 : 0;
  const limit = base + Math.min(spec.maxSize, MAX_MESSAGE) - (spec.opt ? OPT_RR_SIZE : 0);
  let qEnd = base + 12;
  let qdcount = 0;
  if (spec.request !== undefined && spec.questionEnd !== undefined) {
    scratch.set(spec.request.subarray(12, spec.questionEnd), qEnd);
    qEnd += spec.questionEnd - 12;
    qdcount = 1;
  }
  let off = qEnd;
  let tc = spec.truncate === true;
  if (!tc) {
    try {
      for (const rr of spec.answers) off = writeRecord(rr, off, limit, spec);
      for (const rr of spec.authority) off = writeRecord(rr, off, limit, spec);
    } catch (err) {
      if (!(err instanceof Overflow)) throw err;
      // RFC 1035 §4.2.1 / RFC 2181 §9: does not fit → TC=1 and drop the records (a resolver
      // retries over TCP). The OPT stays: RFC 6891 §7 wants it in truncated replies too.
      off = qEnd;
      tc = true;
    }
  }
  const ancount = tc ? 0 : spec.answers.length;
  const nscount = tc ? 0 : spec.authority.length;
  let arcount = 0;
  if (spec.opt) {
    off = writeOpt(scratch, off, spec.opt, spec.rcode);
    arcount = 1;
  }
  writeHeader(base, spec, tc, qdcount, ancount, nscount, arcount);
  if (spec.lengthPrefix) scratch.writeUInt16BE(off - base, 0);
  const out = Buffer.allocUnsafe(off);
  scratch.copy(out, 0, 0, off);
  return out;
}

function writeHeader(base: number, spec: ResponseSpec, tc: boolean, qd: number, an: number, ns: number, ar: number): void {
  const rf = spec.requestFlags;
  scratch.writeUInt16BE(spec.id, base);
  // Byte 2: QR | opcode (echoed) | AA | TC | RD (echoed, RFC 1035 §4.1.1). Byte 3: RA=0 (we offer
  // no recursion: RFC 1035 §4.1.1 "Recursion Available" is the server's, not the query's) | Z=0 |
  // AD=0 | CD (echoed, RFC 4035 §3.1.6) | RCODE low 4 bits (RFC 6891 §6.1.3 puts the rest in the
  // OPT). What is echoed comes from `requestFlags`: a caller that must not echo a bit clears it.
  scratch[base + 2] = 0x80 | ((rf >> 8) & 0x78) | (spec.aa ? 0x04 : 0) | (tc ? 0x02 : 0) | ((rf >> 8) & 0x01);
  scratch[base + 3] = (rf & 0x10) | (spec.rcode & 0x0f);
  scratch.writeUInt16BE(qd, base + 4);
  scratch.writeUInt16BE(an, base + 6);
  scratch.writeUInt16BE(ns, base + 8);
  scratch.writeUInt16BE(ar, base + 10);
}

function writeRecord(rr: ResourceRecord, off: number, limit: number, spec: ResponseSpec): number {
  const nameStart = off;
  try {
    off = writeName(scratch, off, rr.name, limit);
  } catch (err) {
    // Running out of room is a size problem (→ TC); a bad name is the caller's bug (→ throw).
    if (err instanceof NoRoomError) throw new Overflow();
    throw err;
  }
  off = compressOwner(nameStart, off, spec);
  const rdlen = rr.data.length;
  if (rdlen > 0xffff) throw new RangeError(`rdata of ${rr.name} is ${rdlen} bytes`);
  if (off + 10 + rdlen > limit) throw new Overflow();
  scratch.writeUInt16BE(rr.type, off);
  scratch.writeUInt16BE(rr.class, off + 2);
  // RFC 2181 §8: a TTL with the top bit set is treated as 0 by receivers; clamp instead.
  scratch.writeUInt32BE(rr.ttl > 0x7fffffff ? 0x7fffffff : rr.ttl < 0 ? 0 : Math.floor(rr.ttl), off + 4);
  scratch.writeUInt16BE(rdlen, off + 8);
  scratch.set(rr.data, off + 10);
  return off + 10 + rdlen;
}

/**
 * RFC 1035 §4.1.4: if the owner just written at [start, end) equals the question name or one of its
 * suffixes (case-insensitively), replace it with a pointer into the question. That covers answers
 * owned by the question name and the SOA owned by the zone apex, at the cost of a few byte compares.
 */
function compressOwner(start: number, end: number, spec: ResponseSpec): number {
  if (spec.request === undefined || spec.questionEnd === undefined) return end;
  const len = end - start;
  if (len <= 1) return end; // the root is one byte already
  const q = spec.request;
  const qNameEnd = spec.questionEnd - 4;
  // Walk the question's label boundaries to the one suffix that has the owner's length.
  let p = 12;
  while (qNameEnd - p > len) p += 1 + (q[p] as number);
  if (qNameEnd - p !== len) return end;
  for (let i = 0; i < len; i++) {
    if (lowerByte(q[p + i] as number) !== lowerByte(scratch[start + i] as number)) return end;
  }
  // The question sits at offset 12 of the reply as of the request, so `p` is valid as is (offsets
  // count from the message start, after any TCP length prefix: `start` is in scratch coordinates).
  scratch[start] = 0xc0 | (p >> 8);
  scratch[start + 1] = p & 0xff;
  return start + 2;
}
