import { readRequest } from '../lib/dns-wire/request-reader.js';
import { writeResponse } from '../lib/dns-wire/response-writer.js';

/**
 * The front's own answers: REFUSED for outsiders, SERVFAIL when Unbound is silent or an insertion
 * must fail closed. Header + the question echoed byte for byte (RFC 1035 §4.1.1), no EDNS and no
 * records, so never larger than the query. Undefined for what must not be answered at all (a
 * response, a message shorter than a header).
 */
export function localReply(query: Uint8Array, rcode: number): Buffer | undefined {
  const r = readRequest(query);
  switch (r.kind) {
    case 'drop':
      return undefined;
    case 'query':
      return writeResponse({ id: r.id, requestFlags: r.flags, aa: false, rcode, request: query, questionEnd: r.questionEnd, answers: [], authority: [], maxSize: 512, lengthPrefix: false });
    case 'error':
      return writeResponse({ id: r.id, requestFlags: r.flags, aa: false, rcode, answers: [], authority: [], maxSize: 512, lengthPrefix: false });
  }
}

export const SERVFAIL = 2;
export const REFUSED = 5;

/** A DNS message the front may forward or answer: a header, QR=0. */
export function queryShape(msg: Uint8Array): 'query' | 'malformed' | 'response' {
  if (msg.length < 12) return 'malformed';
  return ((msg[2] as number) & 0x80) !== 0 ? 'response' : 'query';
}
