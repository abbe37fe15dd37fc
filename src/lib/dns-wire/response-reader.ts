import { decompressName, HEADER_SIZE, type NameRead } from './compressed-name.js';
import { lowerByte, MAX_NAME, readName } from './wire-name.js';

/**
 * Reads the question and the answer section of a DNS *response* (RFC 1035 §4.1) that somebody
 * else produced — Unbound's replies as dnstap shows them — in one bounded pass. Unlike queries
 * (request-reader.ts), responses use compression everywhere, so names are followed through
 * pointers here, under the loop and length guard of compressed-name.ts. Authority and additional
 * sections are not read: the learner only uses answers. Never throws; `maxAnswers` caps the
 * records kept (the rest is reported as `capped`).
 */

export interface ResponseQuestion {
  /** Presentation form, absolute, ASCII-lowercased (RFC 4343), escapes as `readName` prints them. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface ResponseRecord {
  /** Owner, lowercased presentation form like the question name. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Seconds; a TTL with the top bit set reads as 0 (RFC 2181 §8). */
  readonly ttl: number;
  /** rdata bytes in the message: [rdataOffset, rdataOffset + rdataLength). */
  readonly rdataOffset: number;
  readonly rdataLength: number;
}

export type ResponseMalformedReason =
  | 'short-header'
  | 'not-response' // QR = 0
  | 'qdcount' // more than one question (RFC 9619)
  | 'bad-name' // bad label type, overlong, pointer forwards or looping
  | 'truncated'; // a count or RDLENGTH promises more bytes than there are

export type ResponseReadResult =
  | {
      readonly kind: 'response';
      readonly id: number;
      readonly flags: number;
      readonly rcode: number;
      /** Undefined when QDCOUNT = 0 (allowed in some error replies). */
      readonly question: ResponseQuestion | undefined;
      readonly answers: readonly ResponseRecord[];
      /** ANCOUNT was above `maxAnswers`; only the first `maxAnswers` are in `answers`. */
      readonly capped: boolean;
    }
  | { readonly kind: 'malformed'; readonly reason: ResponseMalformedReason };

export const DEFAULT_MAX_ANSWERS = 256;

export function readResponseAnswers(msg: Uint8Array, maxAnswers = DEFAULT_MAX_ANSWERS): ResponseReadResult {
  if (msg.length < HEADER_SIZE) return { kind: 'malformed', reason: 'short-header' };
  const flags = u16(msg, 2);
  if ((flags & 0x8000) === 0) return { kind: 'malformed', reason: 'not-response' };
  const qdcount = u16(msg, 4);
  if (qdcount > 1) return { kind: 'malformed', reason: 'qdcount' };
  const ancount = u16(msg, 6);
  const scratch = new Uint8Array(MAX_NAME);
  let off = HEADER_SIZE;
  let question: ResponseQuestion | undefined;
  if (qdcount === 1) {
    const n = readLowerName(msg, off, scratch);
    if (n.kind !== 'name') return { kind: 'malformed', reason: n.kind };
    off = n.end;
    if (off + 4 > msg.length) return { kind: 'malformed', reason: 'truncated' };
    question = { name: readName(scratch, 0), type: u16(msg, off), class: u16(msg, off + 2) };
    off += 4;
  }
  const keep = Math.min(ancount, maxAnswers);
  const answers: ResponseRecord[] = [];
  for (let i = 0; i < keep; i++) {
    const n = readLowerName(msg, off, scratch);
    if (n.kind !== 'name') return { kind: 'malformed', reason: n.kind };
    off = n.end;
    if (off + 10 > msg.length) return { kind: 'malformed', reason: 'truncated' };
    const rawTtl = u16(msg, off + 4) * 0x10000 + u16(msg, off + 6);
    const rdataLength = u16(msg, off + 8);
    const rdataOffset = off + 10;
    if (rdataOffset + rdataLength > msg.length) return { kind: 'malformed', reason: 'truncated' };
    answers.push({
      name: readName(scratch, 0),
      type: u16(msg, off),
      class: u16(msg, off + 2),
      ttl: rawTtl > 0x7fffffff ? 0 : rawTtl,
      rdataOffset,
      rdataLength,
    });
    off = rdataOffset + rdataLength;
  }
  return { kind: 'response', id: u16(msg, 0), flags, rcode: flags & 0xf, question, answers, capped: ancount > keep };
}

/**
 * The (possibly compressed) name at `offset` of `msg` as a lowercased presentation string, or
 * undefined when malformed — for names inside rdata (CNAME targets). `limit` bounds the in-place
 * part (a name must not run past its RDLENGTH).
 */
export function readCompressedName(msg: Uint8Array, offset: number, limit = msg.length): string | undefined {
  const scratch = new Uint8Array(MAX_NAME);
  return readLowerName(msg, offset, scratch, limit).kind === 'name' ? readName(scratch, 0) : undefined;
}

/** decompressName into `out`, then ASCII-lowercased (RFC 4343) for the presentation form. */
function readLowerName(msg: Uint8Array, offset: number, out: Uint8Array, limit = msg.length): NameRead {
  const n = decompressName(msg, offset, out, limit);
  if (n.kind === 'name') for (let i = 0; i < n.length; i++) out[i] = lowerByte(out[i] as number);
  return n;
}

function u16(msg: Uint8Array, off: number): number {
  return ((msg[off] as number) << 8) | (msg[off + 1] as number);
}
