/**
 * EDNS(0) (RFC 6891) as far as a small authoritative front needs it: read the requestor's OPT,
 * write ours, and pick the UDP payload limit for a reply.
 */

export const OPT_TYPE = 41;

/** What the requestor's OPT RR said (RFC 6891 §6.1.2–6.1.3). */
export interface EdnsInfo {
  /** Requestor's UDP payload size (the OPT CLASS field), as sent. */
  readonly udpSize: number;
  /** EDNS version (bits 16–23 of the OPT TTL). */
  readonly version: number;
  /** DO bit (RFC 3225 §3): copied into the reply's OPT. */
  readonly dnssecOk: boolean;
}

/** What to put in the reply's OPT RR. */
export interface OptReply {
  readonly udpSize: number;
  readonly dnssecOk: boolean;
}

/**
 * The payload size we advertise: 1232 avoids IP fragmentation on any path with an MTU ≥ 1280
 * (DNS Flag Day 2020; Unbound's default edns-buffer-size).
 */
export const OUR_UDP_SIZE = 1232;

/** RFC 1035 §4.2.1: without EDNS a UDP message is at most 512 bytes. */
export const CLASSIC_UDP_LIMIT = 512;

/** Highest EDNS version we implement; a query above it gets BADVERS (RFC 6891 §6.1.3). */
export const EDNS_VERSION = 0;

/** BADVERS, a 12-bit extended RCODE: its high 8 bits ride in the OPT TTL (RFC 6891 §6.1.3). */
export const RCODE_BADVERS = 16;

/** Size of an OPT RR without options: root name(1) type(2) class(2) ttl(4) rdlength(2). */
export const OPT_RR_SIZE = 11;

/**
 * UDP size limit for a reply: 512 without EDNS; with EDNS the requestor's size, clamped up to 512
 * because "values lower than 512 MUST be treated as equal to 512" (RFC 6891 §6.2.5).
 */
export function udpReplyLimit(edns: EdnsInfo | undefined): number {
  if (edns === undefined) return CLASSIC_UDP_LIMIT;
  return Math.max(edns.udpSize, CLASSIC_UDP_LIMIT);
}

/**
 * Check an OPT RR's RDATA: a sequence of {code(2), length(2), data} that must exactly fill it
 * (RFC 6891 §6.1.2). Options are otherwise ignored: unknown ones MUST be (§6.1.2).
 */
export function optRdataValid(msg: Uint8Array, start: number, end: number): boolean {
  let off = start;
  while (off < end) {
    if (off + 4 > end) return false;
    const len = ((msg[off + 2] as number) << 8) | (msg[off + 3] as number);
    off += 4 + len;
  }
  return off === end;
}

/**
 * Write our OPT RR at `off` (caller checked the room); returns the new offset. `rcode` is the full
 * 12-bit response code: its upper 8 bits go in the TTL's first byte, our version is 0 and only DO
 * is echoed among the flags (RFC 3225 §3: "the DO bit of the query MUST be copied in the response").
 */
export function writeOpt(buf: Uint8Array, off: number, opt: OptReply, rcode: number): number {
  buf[off] = 0; // root owner name (RFC 6891 §6.1.2)
  buf[off + 1] = 0;
  buf[off + 2] = OPT_TYPE;
  buf[off + 3] = (opt.udpSize >> 8) & 0xff;
  buf[off + 4] = opt.udpSize & 0xff;
  buf[off + 5] = (rcode >> 4) & 0xff;
  buf[off + 6] = EDNS_VERSION;
  buf[off + 7] = opt.dnssecOk ? 0x80 : 0;
  buf[off + 8] = 0;
  buf[off + 9] = 0; // RDLENGTH 0: no options
  buf[off + 10] = 0;
  return off + OPT_RR_SIZE;
}
