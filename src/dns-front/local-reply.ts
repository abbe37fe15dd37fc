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

/**
 * What to do with a client message: forward it, drop it (shorter than a header; a response — QR=1
 * is never answered, that is how reflection loops start), or answer FORMERR here. Malformed
 * queries are answered by us because Unbound drops some of them silently (worker.c
 * `worker_check_request`), and each would hold an in-flight slot until upstreamTimeoutMs: a flood
 * of garbage must not lock out real clients. Other opcodes (NOTIFY…) go to Unbound, which decides.
 */
/** `questionEnd`: where the question section ends (a QUERY), to match the answer against it. */
export type Verdict =
  | { readonly kind: 'forward'; readonly questionEnd?: number }
  | { readonly kind: 'drop'; readonly reason: 'malformed' | 'response' }
  | { readonly kind: 'reply'; readonly msg: Buffer };

export function classify(msg: Uint8Array): Verdict {
  const r = readRequest(msg);
  switch (r.kind) {
    case 'query':
      return { kind: 'forward', questionEnd: r.questionEnd };
    case 'drop':
      return { kind: 'drop', reason: r.reason === 'qr-set' ? 'response' : 'malformed' };
    case 'error':
      if (r.reason === undefined) return FORWARD; // an opcode other than QUERY: Unbound's call
      return { kind: 'reply', msg: writeResponse({ id: r.id, requestFlags: r.flags, aa: false, rcode: r.rcode, answers: [], authority: [], maxSize: 512, lengthPrefix: false }) };
  }
}

const FORWARD: Verdict = { kind: 'forward' };
