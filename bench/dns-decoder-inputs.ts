/**
 * Inputs and decoders for bench/dns-decoders.bench.ts: the messages each DNS decoder is fed, and
 * one wrapper per decoder that turns whatever it does into a verdict (accepted, rejected, threw).
 * Hostile messages are the classic ways DNS parsers go wrong: compression loops and forward
 * pointers (RFC 1035 §4.1.4 only allows pointers to a *prior* name), RDLENGTH disagreeing with the
 * message or the type, labels and names over 63 / 255 bytes (§2.3.4), counts the message cannot hold.
 */
import * as dnsPacket from 'dns-packet';
import dns2 from 'dns2';
import { readRequest } from '../src/lib/dns-wire/request-reader.js';
import { readResponseAnswers } from '../src/lib/dns-wire/response-reader.js';
import { readResponse } from '../src/lib/mdns/response-reader.js';
import { pointerChainBomb, rng } from '../test/dns-server/hostile-packets.js';

export type Kind = 'query' | 'response';
export interface Input {
  readonly name: string;
  readonly kind: Kind;
  /** One message, or (junk) many: a decoder's verdicts on them are counted. */
  readonly messages: readonly Buffer[];
}
export interface Verdict {
  readonly outcome: 'accepted' | 'accepted-with-errors' | 'rejected' | 'threw';
  readonly detail: string;
}
export interface Decoder {
  readonly name: string;
  /** Which messages it is meant for (our readers each read one side of the exchange). */
  readonly kinds: readonly Kind[];
  readonly decode: (msg: Buffer) => Verdict;
}

const brief = (x: unknown): string => {
  const s = JSON.stringify(x, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : v)) ?? 'undefined';
  return s.length > 90 ? `${s.slice(0, 87)}...` : s;
};
const threw = (err: unknown): Verdict => ({ outcome: 'threw', detail: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 90) : String(err) });

export const DECODERS: readonly Decoder[] = [
  {
    name: 'dns2 Packet.parse',
    kinds: ['query', 'response'],
    decode: (msg) => {
      try {
        const p = dns2.Packet.parse(msg);
        const first = p.answers[0] ?? p.questions[0];
        if (p.errors.length > 0) return { outcome: 'accepted-with-errors', detail: `${p.errors.length} bad records (${p.errors[0]?.message ?? ''}); first: ${brief(first)}` };
        return { outcome: 'accepted', detail: `${p.answers.length} answers; first: ${brief(first)}` };
      } catch (err) {
        return threw(err);
      }
    },
  },
  {
    name: 'dns-packet decode',
    kinds: ['query', 'response'],
    decode: (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        return { outcome: 'accepted', detail: `${p.answers?.length ?? 0} answers; first: ${brief(p.answers?.[0])}` };
      } catch (err) {
        return threw(err);
      }
    },
  },
  {
    name: 'ours: dns-wire readRequest',
    kinds: ['query'],
    decode: (msg) => {
      const r = readRequest(msg);
      return r.kind === 'query' ? { outcome: 'accepted', detail: `qtype ${r.qtype}` } : { outcome: 'rejected', detail: `${r.kind} ${r.reason ?? ''}` };
    },
  },
  {
    name: 'ours: dns-wire readResponseAnswers',
    kinds: ['response'],
    decode: (msg) => {
      const r = readResponseAnswers(msg);
      return r.kind === 'response' ? { outcome: 'accepted', detail: `${r.answers.length} answers; first: ${brief(r.answers[0])}` } : { outcome: 'rejected', detail: r.reason };
    },
  },
  {
    name: 'ours: mdns readResponse',
    kinds: ['response'],
    decode: (msg) => {
      const r = readResponse(msg);
      return r.kind === 'response' ? { outcome: 'accepted', detail: `${r.answers.length} answers; first: ${brief(r.answers[0])}` } : { outcome: 'rejected', detail: r.reason };
    },
  },
];

/** A message writer with suffix compression (RFC 1035 §4.1.4), enough for the valid inputs. */
class Msg {
  private readonly b: number[];
  private readonly names = new Map<string, number>();
  constructor(flags: number, counts: readonly [number, number, number, number]) {
    this.b = [0x12, 0x34, flags >> 8, flags & 0xff, ...counts.flatMap((c) => [c >> 8, c & 0xff])];
  }
  name(n: string): this {
    const labels = n.split('.').filter((l) => l !== '');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.b.length < 0x3fff) this.names.set(suffix, this.b.length);
      const l = Buffer.from(labels[i] ?? '', 'utf8');
      this.b.push(l.length, ...l);
    }
    this.b.push(0);
    return this;
  }
  u16(v: number): this {
    this.b.push(v >> 8, v & 0xff);
    return this;
  }
  raw(...v: readonly number[]): this {
    this.b.push(...v);
    return this;
  }
  /** Owner, type, class IN, TTL 120, then rdata written by `body` with RDLENGTH filled in. */
  rr(owner: string, type: number, body: (m: this) => void): this {
    this.name(owner).u16(type).u16(1).u16(0).u16(120);
    const at = this.b.length;
    this.u16(0);
    body(this);
    const len = this.b.length - at - 2;
    this.b[at] = len >> 8;
    this.b[at + 1] = len & 0xff;
    return this;
  }
  done(): Buffer {
    return Buffer.from(this.b);
  }
}

const one = (name: string, kind: Kind, msg: Buffer): Input => ({ name, kind, messages: [msg] });
const bytes = (s: string): number[] => [s.length, ...Buffer.from(s, 'latin1')];
const fixed = (type: number, rdlength: number): number[] => [type >> 8, type & 0xff, 0, 1, 0, 0, 0, 120, rdlength >> 8, rdlength & 0xff];
const head = (flags: number, qd: number, an: number, ns = 0, ar = 0): number[] => [
  0xab,
  0xcd,
  flags >> 8,
  flags & 0xff,
  qd >> 8,
  qd & 0xff,
  an >> 8,
  an & 0xff,
  ns >> 8,
  ns & 0xff,
  ar >> 8,
  ar & 0xff,
];
const R = 0x8400; // QR + AA: an mDNS response (RFC 6762 §18.4)

export const VALID: readonly Input[] = [
  one('query printer.local A + OPT', 'query', new Msg(0x0100, [1, 0, 0, 1]).name('printer.local').u16(1).u16(1).raw(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0).done()),
  one(
    'mDNS reply PTR+SRV+TXT+A+AAAA',
    'response',
    new Msg(R, [1, 5, 0, 0])
      .name('_ipp._tcp.local')
      .u16(12)
      .u16(1)
      .rr('_ipp._tcp.local', 12, (m) => m.name('Printer v1.2._ipp._tcp.local'))
      .rr('Printer v1.2._ipp._tcp.local', 33, (m) => m.u16(0).u16(0).u16(631).name('printer.local'))
      .rr('Printer v1.2._ipp._tcp.local', 16, (m) => m.raw(...bytes('rp=ipp/print'), ...bytes('ty=Printer v1.2')))
      .rr('printer.local', 1, (m) => m.raw(192, 168, 1, 20))
      .rr('printer.local', 28, (m) => m.raw(0xfe, 0x80, ...Array<number>(13).fill(0), 1))
      .done(),
  ),
  one(
    'Unbound reply CNAME+2 A + OPT',
    'response',
    new Msg(0x8180, [1, 3, 0, 1])
      .name('www.example.com')
      .u16(1)
      .u16(1)
      .rr('www.example.com', 5, (m) => m.name('edge.example.net'))
      .rr('edge.example.net', 1, (m) => m.raw(93, 184, 216, 34))
      .rr('edge.example.net', 1, (m) => m.raw(93, 184, 216, 35))
      .raw(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0)
      .done(),
  ),
];

const label63 = bytes('x'.repeat(63));
/** Records whose owners each add a 63-byte label in front of the previous owner: legal backward pointers, names past 255 bytes. */
function growingNames(): Buffer {
  const b = head(R, 0, 6);
  let prev = -1;
  for (let i = 0; i < 6; i++) {
    const at = b.length;
    b.push(...label63, ...(prev < 0 ? [0] : [0xc0 | (prev >> 8), prev & 0xff]), ...fixed(1, 4), 10, 0, 0, i);
    prev = at;
  }
  return Buffer.from(b);
}
function junk(n: number): Buffer[] {
  const r = rng(20_240_601);
  return Array.from({ length: n }, () => Buffer.from(Array.from({ length: 12 + Math.floor(r() * 1489) }, () => Math.floor(r() * 256))));
}
const chain = pointerChainBomb();
const chainAsResponse = Buffer.from(chain);
chainAsResponse.writeUInt16BE(R, 2);
const A = [10, 0, 0, 1];

export const HOSTILE: readonly Input[] = [
  one('question name points at itself', 'query', Buffer.from([...head(0x0100, 1, 0), 0xc0, 12, 0, 1, 0, 1])),
  one('owner "a" + pointer back to its own start (loop)', 'response', Buffer.from([...head(R, 0, 1), ...bytes('a'), 0xc0, 12, ...fixed(1, 4), ...A])),
  one('owner points forward into its own rdata', 'response', Buffer.from([...head(R, 0, 1), 0xc0, 24, ...fixed(10, 12), ...bytes('evil'), ...bytes('local'), 0])),
  one('owner pointer past the end (0x3fff)', 'response', Buffer.from([...head(R, 0, 1), 0xff, 0xff, ...fixed(1, 4), ...A])),
  one('A rdata cut short by end of message', 'response', Buffer.from([...head(R, 0, 1), ...bytes('a'), 0, ...fixed(1, 4), 10, 0])),
  one('A with RDLENGTH 2, next record follows', 'response', Buffer.from([...head(R, 0, 2), ...bytes('a'), 0, ...fixed(1, 2), 10, 0, ...bytes('b'), 0, ...fixed(1, 4), ...A])),
  one('RDLENGTH 60000 in a 40-byte message', 'response', Buffer.from([...head(R, 0, 1), ...bytes('a'), 0, ...fixed(1, 60000), ...A, 1, 2, 3, 4, 5, 6, 7, 8])),
  one('SRV target runs past RDLENGTH', 'response', Buffer.from([...head(R, 0, 2), ...bytes('s'), 0, ...fixed(33, 8), 0, 0, 0, 0, 2, 0x77, ...bytes('a'), 0, ...fixed(1, 4), ...A])),
  one('label length 0x41 (reserved label type)', 'response', Buffer.from([...head(R, 0, 1), 0x41, ...Array<number>(65).fill(0x61), 0, ...fixed(1, 4), ...A])),
  one('owner of 5 x 63-byte labels (320 > 255 bytes)', 'response', Buffer.from([...head(R, 0, 1), ...Array.from({ length: 5 }, () => label63).flat(), 0, ...fixed(1, 4), ...A])),
  one('owners grown past 255 bytes by backward pointers', 'response', growingNames()),
  one('counts 65535 x4, 40 bytes of body', 'response', Buffer.from([...head(R, 0xffff, 0xffff, 0xffff, 0xffff), ...Array<number>(40).fill(0)])),
  one('query: 64 KiB, owners into an 8000-hop pointer chain', 'query', chain),
  one('response: the same 64 KiB pointer chain', 'response', chainAsResponse),
  { name: '500 random datagrams, 12-1500 bytes', kind: 'response', messages: junk(500) },
];
