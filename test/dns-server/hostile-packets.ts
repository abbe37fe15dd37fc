/**
 * Generators of malformed and hostile DNS messages for the flood test. Deterministic (seeded) so a
 * failure can be replayed. Each generator targets one way parsers go wrong.
 */

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = (r: () => number) => Buffer;

const int = (r: () => number, n: number) => Math.floor(r() * n);
const bytes = (r: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => int(r, 256)));

function header(r: () => number, qd: number, an: number, ns: number, ar: number, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(int(r, 65536), 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

const Q_LOCAL = Buffer.from([7, ...Buffer.from('printer'), 5, ...Buffer.from('local'), 0, 0, 1, 0, 1]);
const rr = (name: number[], type: number, rdlen: number, rdata: Buffer, cls = 1, ttl = 0) => {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(cls, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdlen, 8);
  return Buffer.concat([Buffer.from(name), fixed, rdata]);
};
const opt = (udp: number, rdlen: number, rdata: Buffer, name: number[] = [0]) => rr(name, 41, rdlen, rdata, udp);

export const generators: Record<string, Gen> = {
  random: (r) => bytes(r, int(r, 600)),
  runt: (r) => bytes(r, int(r, 12)),
  headerRandomBody: (r) => Buffer.concat([header(r, int(r, 3), int(r, 3), int(r, 2), int(r, 3)), bytes(r, int(r, 300))]),
  counts65535: (r) => Buffer.concat([header(r, int(r, 2) ? 65535 : 1, 65535, 65535, 65535), Q_LOCAL, bytes(r, int(r, 40))]),
  qdcount0: (r) => header(r, 0, 0, 0, 0),
  // Compression: a question name that points at itself, at the header, forward, past the end.
  pointerLoop: (r) => Buffer.concat([header(r, 1, 0, 0, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]),
  pointerForward: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, rr([0xc0, 0xff], 1, 4, bytes(r, 4))]),
  pointerOutOfRange: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, rr([0xff, 0xff], 1, 4, bytes(r, 4))]),
  answerSelfLoop: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, rr([0xc0, 29], 1, 4, bytes(r, 4))]),
  badLabelType: (r) => Buffer.concat([header(r, 1, 0, 0, 0), Buffer.from([0x40 | int(r, 64), 1, 2, 0, 0, 1, 0, 1])]),
  longName: (r) => Buffer.concat([header(r, 1, 0, 0, 0), ...Array.from({ length: 6 }, () => Buffer.concat([Buffer.from([63]), bytes(r, 63)])), Buffer.from([0, 0, 1, 0, 1])]),
  lyingRdlength: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, rr([0], 1, 1000 + int(r, 60000), bytes(r, 4))]),
  truncatedRecord: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, Buffer.from([0, 0, 1])]),
  twoOpts: (r) => Buffer.concat([header(r, 1, 0, 0, 2), Q_LOCAL, opt(4096, 0, Buffer.alloc(0)), opt(1232, 0, Buffer.alloc(0))]),
  optHugeRdlen: (r) => Buffer.concat([header(r, 1, 0, 0, 1), Q_LOCAL, opt(65535, 65535, bytes(r, 8))]),
  optBadOption: (r) => Buffer.concat([header(r, 1, 0, 0, 1), Q_LOCAL, opt(4096, 6, Buffer.from([0, 10, 0, 200, 1, 2]))]),
  optNotRoot: (r) => Buffer.concat([header(r, 1, 0, 0, 1), Q_LOCAL, opt(4096, 0, Buffer.alloc(0), [1, 97, 0])]),
  optInAnswer: (r) => Buffer.concat([header(r, 1, 1, 0, 0), Q_LOCAL, opt(4096, 0, Buffer.alloc(0))]),
  optTinySize: (r) => Buffer.concat([header(r, 1, 0, 0, 1), Q_LOCAL, opt(int(r, 512), 0, Buffer.alloc(0))]),
  qtypeOpt: (r) => Buffer.concat([header(r, 1, 0, 0, 0), Buffer.from([1, 97, 5, ...Buffer.from('local'), 0, 0, 41, 0, 1])]),
  trailing: (r) => Buffer.concat([header(r, 1, 0, 0, 0), Q_LOCAL, bytes(r, 1 + int(r, 30))]),
  response: (r) => Buffer.concat([header(r, 1, 0, 0, 0, 0x8180), Q_LOCAL]),
  opcodes: (r) => Buffer.concat([header(r, 1, 0, 0, 0, (1 + int(r, 15)) << 11), Q_LOCAL]),
  mutatedQuery: (r) => {
    const b = Buffer.concat([header(r, 1, 0, 0, 1), Q_LOCAL, opt(4096, 0, Buffer.alloc(0))]);
    for (let i = 0, n = 1 + int(r, 4); i < n; i++) b[int(r, b.length)] = int(r, 256);
    return b;
  },
  // A query for a big answer from a spoofable source is fine; off-zone must stay REFUSED.
  validMixedCase: (r) => Buffer.concat([header(r, 1, 0, 0, 0), Buffer.from([7, ...Buffer.from(int(r, 2) ? 'PrInTeR' : 'printer'), 5, ...Buffer.from('LoCaL'), 0, 0, int(r, 2) ? 1 : 28, 0, 1])]),
};

/**
 * The message that costs dns2 3.1.1's Packet.parse seconds: a valid query followed by thousands
 * of records whose owner names point into an 8000-hop pointer chain (held in the first record's
 * rdata). Every hop points backwards, so even a "pointers must go back" rule does not stop it.
 */
export function pointerChainBomb(): Buffer {
  const buf = Buffer.alloc(65000);
  let o = 0;
  const h = Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  h.copy(buf, o);
  o += 12;
  Q_LOCAL.copy(buf, o);
  o += Q_LOCAL.length;
  buf[o++] = 0;
  buf.writeUInt16BE(65534, o);
  buf.writeUInt16BE(1, o + 2);
  const hops = 8000;
  buf.writeUInt16BE(hops * 2, o + 8);
  o += 10;
  for (let i = 0; i < hops; i++, o += 2) buf.writeUInt16BE(0xc000 | (i === 0 ? 12 : o - 2), o);
  const chainEnd = o - 2; // the last pointer: following it walks the whole chain back to the question
  let n = 1;
  while (o + 12 <= buf.length) {
    buf.writeUInt16BE(0xc000 | chainEnd, o);
    buf.writeUInt16BE(65534, o + 2);
    buf.writeUInt16BE(1, o + 4);
    o += 12;
    n++;
  }
  buf.writeUInt16BE(n, 6);
  return buf.subarray(0, o);
}

export const GENERATOR_NAMES = Object.keys(generators);
