import { MessageNames, readResponseAnswers, type ResponseMalformedReason, type ResponseRecord } from '../dns-wire/response-reader.js';
import { RRClass, RRType } from '../dns-wire/types.js';
import { formatAddress, type IpFamily } from '../ip-prefix/index.js';

/**
 * What the learner needs from one DNS response: the question, every A/AAAA in
 * the answer section with its owner and TTL, and the CNAME links, so it can ask "does the owner, or
 * any name whose CNAME chain leads to it, match a list?" — `www.listed.example CNAME
 * edge.cdn.net.` then `edge.cdn.net. A 203.0.113.7` must learn 203.0.113.7 for listed.example.
 * Names are lowercased presentation form, absolute (trailing dot). Never throws.
 */

export interface AddressAnswer {
  readonly owner: string;
  readonly family: IpFamily;
  /** Canonical text (RFC 5952 for IPv6). */
  readonly address: string;
  /** Big-endian 32-bit words as ip-prefix uses them (1 for IPv4, 4 for IPv6). */
  readonly words: Uint32Array;
  readonly ttl: number;
  /** Where the record's rdata starts in the message (its TTL is the 4 bytes 6 before it). */
  readonly rdataOffset: number;
}

export interface CnameLink {
  readonly owner: string;
  readonly target: string;
  readonly ttl: number;
}

export interface ResponseAnswers {
  readonly kind: 'answers';
  /** Undefined when the response carries no question. */
  readonly question: string | undefined;
  readonly qtype: number | undefined;
  readonly rcode: number;
  readonly addresses: readonly AddressAnswer[];
  readonly cnames: readonly CnameLink[];
  /** A/AAAA/CNAME records skipped for a wrong class or an rdata of the wrong size. */
  readonly skipped: number;
  /** More answers than the cap; the rest were not read. */
  readonly capped: boolean;
}

/**
 * The text form is made on first use: most answers the DNS front relays are for names no list
 * matches, and their addresses are never looked at as text.
 */
class Address implements AddressAnswer {
  private text: string | undefined;
  constructor(
    readonly owner: string,
    readonly family: IpFamily,
    readonly words: Uint32Array,
    readonly ttl: number,
    readonly rdataOffset: number,
  ) {}
  get address(): string {
    this.text ??= formatAddress(this.family, this.words, 0);
    return this.text;
  }
  toJSON(): { owner: string; family: IpFamily; address: string; ttl: number } {
    return { owner: this.owner, family: this.family, address: this.address, ttl: this.ttl };
  }
}

export type AnswersError = ResponseMalformedReason | 'bad-cname';
export type AnswersResult = ResponseAnswers | { readonly kind: 'error'; readonly reason: AnswersError };

const sharedNames = new MessageNames(new Uint8Array(0));

/** Chains longer than this are not followed (Unbound itself stops at 11 CNAMEs: MAX_RESTART_COUNT). */
export const MAX_CHAIN = 16;

/**
 * `wanted`, when given, screens the owners of the A/AAAA/CNAME records: when it passes none of them,
 * no address can be on a chain it would want (every name on a chain leading to an address is the
 * owner of one of those records), and the result carries no addresses and no CNAME links — the
 * common case for the DNS front, spared decoding CNAME targets and building addresses.
 */
export function extractAnswers(msg: Uint8Array, maxAnswers?: number, wanted?: (name: string) => boolean): AnswersResult {
  // One name table for the whole message: CNAME targets read here are what later owners point at.
  // Reused from call to call (this function is synchronous and calls nothing that reads answers).
  const names = sharedNames.reset(msg);
  const r = readResponseAnswers(msg, maxAnswers, names);
  if (r.kind === 'malformed') return { kind: 'error', reason: r.reason };
  const addresses: AddressAnswer[] = [];
  const cnames: CnameLink[] = [];
  let skipped = 0;
  if (wanted !== undefined && !anyOwnerWanted(r.answers, wanted)) {
    return { kind: 'answers', question: r.question?.name, qtype: r.question?.type, rcode: r.rcode, addresses, cnames, skipped, capped: r.capped };
  }
  for (const rr of r.answers) {
    if (!onChain(rr)) continue;
    if (rr.class !== RRClass.IN) {
      skipped++;
      continue;
    }
    const at = rr.rdataOffset;
    if (rr.type === RRType.CNAME) {
      const target = names.read(at, at + rr.rdataLength);
      if (target === undefined) return { kind: 'error', reason: 'bad-cname' };
      cnames.push({ owner: rr.name, target, ttl: rr.ttl });
      continue;
    }
    const family: IpFamily = rr.type === RRType.A ? 'ipv4' : 'ipv6';
    const size = family === 'ipv4' ? 4 : 16;
    if (rr.rdataLength !== size) {
      skipped++;
      continue;
    }
    const words = new Uint32Array(size / 4);
    for (let w = 0; w < words.length; w++) {
      const o = at + w * 4;
      words[w] = (((msg[o] as number) << 24) | ((msg[o + 1] as number) << 16) | ((msg[o + 2] as number) << 8) | (msg[o + 3] as number)) >>> 0;
    }
    addresses.push(new Address(rr.name, family, words, rr.ttl, at));
  }
  return { kind: 'answers', question: r.question?.name, qtype: r.question?.type, rcode: r.rcode, addresses, cnames, skipped, capped: r.capped };
}

/** A/AAAA/CNAME: the records an address's chain is made of. */
function onChain(rr: ResponseRecord): boolean {
  return rr.type === RRType.A || rr.type === RRType.AAAA || rr.type === RRType.CNAME;
}

function anyOwnerWanted(answers: readonly ResponseRecord[], wanted: (name: string) => boolean): boolean {
  let last: string | undefined;
  for (const rr of answers) {
    if (!onChain(rr)) continue;
    // Owners repeat (Unbound compresses them to one pointer: the same string): each is asked once in a row.
    if (rr.name === last) continue;
    last = rr.name;
    if (wanted(rr.name)) return true;
  }
  return false;
}

/**
 * `owner` and every name whose CNAME chain in `cnames` leads to it, nearest first:
 * for `a. CNAME b.`, `b. CNAME c.` and owner `c.` → [`c.`, `b.`, `a.`]. Loops and forks are
 * bounded (each name once, at most MAX_CHAIN hops); names compare as given (both lowercased).
 */
export function namesLeadingTo(owner: string, cnames: readonly CnameLink[]): string[] {
  const names = [owner];
  const seen = new Set(names);
  for (let i = 0; i < names.length && names.length <= MAX_CHAIN; i++) {
    const current = names[i];
    for (const link of cnames) {
      if (link.target === current && !seen.has(link.owner)) {
        seen.add(link.owner);
        names.push(link.owner);
      }
    }
  }
  return names.slice(0, MAX_CHAIN + 1);
}
