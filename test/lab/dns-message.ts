/**
 * A small, independent DNS message codec for the lab's probe (RFC 1035 §4, EDNS0 RFC 6891).
 * Deliberately not shared with src/lib/dns-wire: the tests must not trust the code they test.
 * It decodes what the tests assert on (A, AAAA, PTR, CNAME, NS, SRV, TXT, SOA, OPT) and keeps
 * everything else as hex. The question name is kept byte for byte so 0x20 case can be checked.
 */

export const QTYPE: Readonly<Record<string, number>> = {
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
  ANY: 255,
};

const TYPE_NAME = new Map(Object.entries(QTYPE).map(([k, v]) => [v, k]));

export function typeName(type: number): string {
  return TYPE_NAME.get(type) ?? `TYPE${type}`;
}

export const RCODE_NAME = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

export function rcodeName(rcode: number): string {
  return RCODE_NAME[rcode] ?? `RCODE${rcode}`;
}

export interface QueryOptions {
  readonly id: number;
  /** Sent exactly as given (case kept); a trailing dot is optional. */
  readonly name: string;
  readonly type: number;
  readonly class?: number;
  readonly rd?: boolean;
  /** Add an OPT record advertising this UDP payload size. */
  readonly ednsUdpSize?: number;
}

export interface DecodedRecord {
  readonly name: string;
  readonly type: string;
  readonly class: number;
  readonly ttl: number;
  /** Presentation-ish form: "10.0.0.1", "0 0 631 host.local.", `"a=1" "b=2"`; hex for unknown types. */
  readonly data: string;
  /** TXT strings, when type is TXT. */
  readonly txt?: readonly string[];
}

export interface DecodedMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: string;
  /** The question as the server echoed it, case kept. */
  readonly question: { readonly name: string; readonly type: string; readonly class: number } | undefined;
  readonly answers: readonly DecodedRecord[];
  readonly authority: readonly DecodedRecord[];
  readonly additional: readonly DecodedRecord[];
  /** Present when the reply carried an OPT record. */
  readonly edns: { readonly udpSize: number; readonly version: number } | undefined;
  readonly size: number;
}

export function encodeQuery(q: QueryOptions): Buffer {
  const labels = q.name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id & 0xffff, 0);
  header.writeUInt16BE(q.rd === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(q.ednsUdpSize === undefined ? 0 : 1, 10);
  parts.push(header);
  for (const l of labels) {
    const b = Buffer.from(l, 'utf8');
    if (b.length > 63) throw new Error(`label too long: ${l}`);
    parts.push(Buffer.from([b.length]), b);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(q.type, 1);
  tail.writeUInt16BE(q.class ?? 1, 3);
  parts.push(tail);
  if (q.ednsUdpSize !== undefined) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(QTYPE.OPT ?? 41, 1);
    opt.writeUInt16BE(q.ednsUdpSize, 3);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated message at ${this.pos}+${n}`);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  name(): string {
    const { name, end } = readName(this.buf, this.pos);
    this.pos = end;
    return name;
  }
}

/** Reads a possibly compressed name; returns it with a trailing dot ("." for the root). */
function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= buf.length) throw new Error('name runs past the message');
    const len = buf.readUInt8(pos);
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new Error('truncated compression pointer');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | buf.readUInt8(pos + 1);
      continue;
    }
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.length === 0 ? '.' : `${labels.join('.')}.`, end };
    }
    if (pos + 1 + len > buf.length) throw new Error('label runs past the message');
    labels.push(escapeLabel(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  throw new Error('compression loop');
}

function escapeLabel(b: Buffer): string {
  let s = '';
  for (const c of b) {
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function readRecord(r: Reader): DecodedRecord & { udpSize?: number; version?: number } {
  const name = r.name();
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const rdlen = r.u16();
  const rdStart = r.pos;
  const rd = r.bytes(rdlen);
  let data: string;
  let txt: string[] | undefined;
  switch (type) {
    case 1:
      data = Array.from(rd).join('.');
      break;
    case 28:
      data = ipv6(rd);
      break;
    case 2:
    case 5:
    case 12:
      data = readName(r.buf, rdStart).name;
      break;
    case 33: {
      const target = readName(r.buf, rdStart + 6).name;
      data = `${rd.readUInt16BE(0)} ${rd.readUInt16BE(2)} ${rd.readUInt16BE(4)} ${target}`;
      break;
    }
    case 16: {
      txt = [];
      for (let i = 0; i < rd.length; ) {
        const l = rd.readUInt8(i);
        txt.push(rd.subarray(i + 1, i + 1 + l).toString('utf8'));
        i += 1 + l;
      }
      data = txt.map((t) => JSON.stringify(t)).join(' ');
      break;
    }
    case 6: {
      const mname = readName(r.buf, rdStart);
      const rname = readName(r.buf, mname.end);
      const nums = r.buf.subarray(rname.end, rname.end + 20);
      const n = (i: number): number => nums.readUInt32BE(i * 4);
      data = `${mname.name} ${rname.name} ${n(0)} ${n(1)} ${n(2)} ${n(3)} ${n(4)}`;
      break;
    }
    default:
      data = rd.toString('hex');
  }
  const rec = { name, type: typeName(type), class: klass, ttl, data, ...(txt ? { txt } : {}) };
  // OPT (RFC 6891 §6.1.2): class is the UDP payload size, TTL carries the version.
  return type === 41 ? { ...rec, udpSize: klass, version: (ttl >>> 16) & 0xff } : rec;
}

export function decodeMessage(buf: Buffer): DecodedMessage {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  let question: DecodedMessage['question'];
  for (let i = 0; i < counts[0]; i++) {
    const name = r.name();
    const q = { name, type: typeName(r.u16()), class: r.u16() };
    question ??= q;
  }
  const section = (n: number): DecodedRecord[] => Array.from({ length: n }, () => readRecord(r));
  const answers = section(counts[1]);
  const authority = section(counts[2]);
  const additionalRaw = section(counts[3]);
  const opt = additionalRaw.find((x) => x.type === 'OPT') as (DecodedRecord & { udpSize: number; version: number }) | undefined;
  return {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: rcodeName(flags & 0xf),
    question,
    answers,
    authority,
    additional: additionalRaw.filter((x) => x.type !== 'OPT'),
    edns: opt ? { udpSize: opt.udpSize, version: opt.version } : undefined,
    size: buf.length,
  };
}
