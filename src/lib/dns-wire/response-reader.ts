import { decompressName, HEADER_SIZE, MAX_JUMPS } from './compressed-name.js';
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

export function readResponseAnswers(msg: Uint8Array, maxAnswers = DEFAULT_MAX_ANSWERS, names = new MessageNames(msg)): ResponseReadResult {
  if (msg.length < HEADER_SIZE) return { kind: 'malformed', reason: 'short-header' };
  const flags = u16(msg, 2);
  if ((flags & 0x8000) === 0) return { kind: 'malformed', reason: 'not-response' };
  const qdcount = u16(msg, 4);
  if (qdcount > 1) return { kind: 'malformed', reason: 'qdcount' };
  const ancount = u16(msg, 6);
  let off = HEADER_SIZE;
  let question: ResponseQuestion | undefined;
  if (qdcount === 1) {
    const n = names.read(off);
    if (n === undefined) return { kind: 'malformed', reason: names.failure };
    off = names.end;
    if (off + 4 > msg.length) return { kind: 'malformed', reason: 'truncated' };
    question = { name: n, type: u16(msg, off), class: u16(msg, off + 2) };
    off += 4;
  }
  const keep = Math.min(ancount, maxAnswers);
  const answers: ResponseRecord[] = [];
  for (let i = 0; i < keep; i++) {
    const n = names.read(off);
    if (n === undefined) return { kind: 'malformed', reason: names.failure };
    off = names.end;
    if (off + 10 > msg.length) return { kind: 'malformed', reason: 'truncated' };
    const rdataLength = u16(msg, off + 8);
    const rdataOffset = off + 10;
    if (rdataOffset + rdataLength > msg.length) return { kind: 'malformed', reason: 'truncated' };
    answers.push({
      name: n,
      type: u16(msg, off),
      class: u16(msg, off + 2),
      ttl: readTtl(msg, off + 4),
      rdataOffset,
      rdataLength,
    });
    off = rdataOffset + rdataLength;
  }
  return { kind: 'response', id: u16(msg, 0), flags, rcode: flags & 0xf, question, answers, capped: ancount > keep };
}

/**
 * One scratch buffer for every name read: the readers are synchronous and never re-entered. A
 * Buffer, for its latin1 `toString` (measured: 78 ns for a 26-byte name, TextDecoder 153 ns).
 */
const scratch = Buffer.alloc(MAX_NAME);

/**
 * The names of one message, read through compressed-name.ts's guard, each remembered by the offset
 * it starts at. Unbound compresses every answer's owner to a bare pointer at the question or at a
 * CNAME target read just before, so most owners cost a lookup here instead of a decode and a new
 * string. A pointer reuses a remembered name only where following it would read exactly that name
 * under the same guard: the target lies below the pointer (compressed-name.ts's first rule, which
 * then applies from the target on just as when the name was read there) and one more jump stays
 * within MAX_JUMPS.
 */
export class MessageNames {
  /**
   * The first KEPT names read, by offset: a few parallel slots instead of a Map (a response has a
   * handful of distinct names; clearing a Map per message cost more than the lookups it saves).
   */
  private readonly at = new Int32Array(KEPT);
  private readonly jumps = new Uint8Array(KEPT);
  private readonly text: string[] = new Array<string>(KEPT).fill('');
  private kept = 0;
  /** The offset after the name in place, after a successful `read`. */
  end = 0;
  /** Why the last `read` that answered undefined failed. */
  failure: 'bad-name' | 'truncated' = 'bad-name';

  constructor(private msg: Uint8Array) {}

  /** The same table for another message (one message at a time): nothing allocated per message on a hot path. */
  reset(msg: Uint8Array): this {
    this.msg = msg;
    this.kept = 0;
    this.end = 0;
    return this;
  }

  private find(offset: number): number {
    for (let k = 0; k < this.kept; k++) if (this.at[k] === offset) return k;
    return -1;
  }

  /**
   * The (possibly compressed) name at `offset` as a lowercased presentation string, or undefined
   * when malformed (why: `failure`). `limit` bounds the in-place part (a name in rdata must not
   * run past RDLENGTH).
   */
  read(offset: number, limit = this.msg.length): string | undefined {
    const msg = this.msg;
    const b = msg[offset];
    if (b !== undefined && (b & 0xc0) === 0xc0 && offset + 1 < limit) {
      const target = ((b & 0x3f) << 8) | (msg[offset + 1] as number);
      const k = target < offset ? this.find(target) : -1;
      if (k >= 0 && (this.jumps[k] as number) < MAX_JUMPS) {
        this.end = offset + 2;
        return this.text[k];
      }
    }
    const n = decompressName(msg, offset, scratch, limit);
    if (n.kind !== 'name') {
      this.failure = n.kind;
      return undefined;
    }
    const name = lowerPresentation(n.length);
    if (this.kept < KEPT) {
      this.at[this.kept] = offset;
      this.jumps[this.kept] = n.jumps;
      this.text[this.kept++] = name;
    }
    this.end = n.end;
    return name;
  }
}

const KEPT = 16;

/**
 * `scratch[0, length)` (uncompressed wire labels, terminating zero included) as a lowercased
 * presentation string. When no byte needs an escape (the common case), the labels are joined in
 * place — each length byte after the first becomes a dot — and decoded in one call instead of a
 * string built a character at a time; otherwise readName writes the escapes.
 */
function lowerPresentation(length: number): string {
  if (length === 1) return '.';
  let plain = true;
  for (let i = 0; i < length - 1; ) {
    const len = scratch[i] as number;
    for (let j = i + 1; j <= i + len; j++) {
      const b = lowerByte(scratch[j] as number);
      scratch[j] = b;
      if (b < 0x21 || b > 0x7e || b === 0x2e || b === 0x5c) plain = false;
    }
    i += len + 1;
  }
  if (!plain) return readName(scratch, 0);
  for (let i = 0; i < length - 1; ) {
    const next = i + (scratch[i] as number) + 1;
    if (i > 0) scratch[i] = 0x2e;
    i = next;
  }
  scratch[length - 1] = 0x2e;
  return scratch.toString('latin1', 1, length);
}

/** A record's TTL at `at`; RFC 2181 §8: one with the top bit set reads as 0. */
export function readTtl(msg: Uint8Array, at: number): number {
  const raw = u16(msg, at) * 0x10000 + u16(msg, at + 2);
  return raw > 0x7fffffff ? 0 : raw;
}

function u16(msg: Uint8Array, off: number): number {
  return ((msg[off] as number) << 8) | (msg[off + 1] as number);
}
