/**
 * The record model shared by every pipeline: rdata travels as raw wire bytes (names inside it
 * uncompressed), so any record type Avahi or mDNS hands us can be answered without a codec for it.
 */
export interface ResourceRecord {
  /** Owner name, presentation form, absolute (trailing dot), case as it should be sent. */
  readonly name: string;
  readonly type: number;
  /** Class without the mDNS cache-flush bit (normally 1 = IN). */
  readonly class: number;
  /** Seconds. */
  readonly ttl: number;
  /** Raw rdata, uncompressed. */
  readonly data: Uint8Array;
}

/** A question as it was asked (name case kept: resolvers use 0x20 randomisation). */
export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/**
 * What a zone's resolver says about one question. The DNS front maps it to an rcode and adds the
 * zone's SOA to negative answers (RFC 2308 §3), so resolvers never build wire messages themselves.
 */
export type ZoneAnswer =
  | { readonly kind: 'answer'; readonly records: readonly ResourceRecord[] }
  | { readonly kind: 'nxdomain' }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'servfail'; readonly reason: string };

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  NSEC: 47,
  HTTPS: 65,
  ANY: 255,
} as const;

export const RRClass = { IN: 1, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

/** `A`, `AAAA`, … or RFC 3597's `TYPE65534` for anything else. */
export function typeName(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

/** Parse `A`, `aaaa`, `TYPE65` into a number; undefined when unknown. */
export function parseTypeName(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = (RRType as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m?.[1] !== undefined) {
    const n = Number(m[1]);
    if (n >= 0 && n <= 65535) return n;
  }
  return undefined;
}

export function rcodeName(rcode: number): string {
  for (const [k, v] of Object.entries(Rcode)) if (v === rcode) return k;
  return `RCODE${rcode}`;
}
