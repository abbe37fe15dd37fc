import { RRClass, RRType, type ResourceRecord } from '../lib/dns-wire/types.js';

/**
 * RFC 8482 §4.1: an ANY question gets a subset of what the name has — here the one RRset of the
 * first record found — not everything (ANY answers are an amplification tool, and mDNS sources
 * cannot promise completeness anyway).
 */
export function minimalAnyAnswer(records: readonly ResourceRecord[]): ResourceRecord[] {
  const first = records[0];
  return first === undefined ? [] : records.filter((rr) => rr.type === first.type);
}

/** `"RFC8482" ""` as HINFO rdata: two character-strings (RFC 1035 §3.3.2). */
const HINFO_RFC8482 = Uint8Array.from([7, ...Buffer.from('RFC8482', 'ascii'), 0]);

/** RFC 8482 §4.2: the name exists but nothing is at hand to show for ANY: a synthesized HINFO. */
export function synthesizedHinfo(name: string, ttl: number): ResourceRecord {
  return { name, type: RRType.HINFO, class: RRClass.IN, ttl, data: HINFO_RFC8482 };
}
