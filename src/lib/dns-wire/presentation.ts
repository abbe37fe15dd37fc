import { isIPv4, isIPv6 } from 'node:net';
import { parseTypeName, RRClass, RRType, typeName, type ResourceRecord } from './types.js';
import { MAX_NAME, NameError, readName, writeName } from './wire-name.js';

/**
 * Zone-file (presentation) form of the records we handle, both ways:
 * `router.local. 120 IN A 10.0.0.1`. Types without a codec here use RFC 3597's `\# len hex`,
 * so any record Avahi hands us can still be printed, and any record can be configured.
 */

export class PresentationError extends Error {}

/** Absolute presentation name (RFC 1035 §5.1 escapes) → uncompressed wire labels. */
export function encodeName(name: string): Buffer {
  const tmp = Buffer.alloc(MAX_NAME + 1);
  try {
    return tmp.subarray(0, writeName(tmp, 0, name));
  } catch (err) {
    throw new PresentationError(err instanceof NameError ? err.message : String(err));
  }
}

function quoteText(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) s += `\\${b.toString().padStart(3, '0')}`;
    else s += String.fromCharCode(b);
  }
  return `${s}"`;
}

/** rdata → presentation text (without owner/ttl/type). */
export function formatRdata(type: number, data: Uint8Array): string {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  try {
    switch (type) {
      case RRType.A:
        if (buf.length === 4) return Array.from(buf).join('.');
        break;
      case RRType.AAAA:
        if (buf.length === 16) return formatIPv6(buf);
        break;
      case RRType.PTR:
      case RRType.CNAME:
      case RRType.NS:
        return readName(buf, 0);
      case RRType.SRV:
        if (buf.length >= 7) return `${buf.readUInt16BE(0)} ${buf.readUInt16BE(2)} ${buf.readUInt16BE(4)} ${readName(buf, 6)}`;
        break;
      case RRType.MX:
        if (buf.length >= 3) return `${buf.readUInt16BE(0)} ${readName(buf, 2)}`;
        break;
      case RRType.TXT: {
        const strings: string[] = [];
        let pos = 0;
        while (pos < buf.length) {
          const len = buf[pos] ?? 0;
          if (pos + 1 + len > buf.length) throw new PresentationError('TXT string runs past rdata');
          strings.push(quoteText(buf.subarray(pos + 1, pos + 1 + len)));
          pos += 1 + len;
        }
        return strings.length === 0 ? '""' : strings.join(' ');
      }
    }
  } catch {
    // fall through to the generic form: a record we cannot decode is still shown, byte for byte
  }
  return `\\# ${buf.length}${buf.length > 0 ? ` ${buf.toString('hex')}` : ''}`;
}

function formatIPv6(buf: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
  let best = -1,
    bestLen = 0;
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

/** One zone-file line: `owner TTL IN TYPE rdata`. */
export function formatRecord(rr: ResourceRecord): string {
  const cls = rr.class === RRClass.IN ? 'IN' : `CLASS${rr.class}`;
  return `${rr.name}\t${rr.ttl}\t${cls}\t${typeName(rr.type)}\t${formatRdata(rr.type, rr.data)}`;
}

/** Split a presentation line into tokens, keeping "quoted strings" whole (quotes stripped, escapes resolved later). */
function tokenize(line: string): { text: string; quoted: boolean }[] {
  const out: { text: string; quoted: boolean }[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    if (m[1] !== undefined) out.push({ text: m[1], quoted: true });
    else if (m[2] !== undefined) out.push({ text: m[2], quoted: false });
  }
  return out;
}

function unescapeText(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '\\' && i + 1 < s.length) {
      const dec = /^\d{3}/.exec(s.slice(i + 1));
      if (dec) {
        bytes.push(Number(dec[0]) & 0xff);
        i += 3;
      } else {
        bytes.push(...Buffer.from(s[i + 1] ?? '', 'utf8'));
        i += 1;
      }
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes);
}

function ipv6Bytes(text: string): Buffer {
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function u16(text: string | undefined, what: string): Buffer {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n > 65535) throw new PresentationError(`${what}: expected a number 0-65535, got "${text ?? ''}"`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function absolute(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

/** rdata text → wire bytes for `type`. */
export function encodeRdata(type: number, args: { text: string; quoted: boolean }[]): Buffer {
  const plain = args.map((a) => a.text);
  if (plain[0] === '\\#') {
    const len = Number(plain[1]);
    const hex = plain.slice(2).join('');
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== len * 2) throw new PresentationError(`\\# form: length ${plain[1] ?? ''} does not match the hex data`);
    return Buffer.from(hex, 'hex');
  }
  switch (type) {
    case RRType.A:
      if (plain.length !== 1 || !isIPv4(plain[0] ?? '')) throw new PresentationError(`A: expected an IPv4 address, got "${plain.join(' ')}"`);
      return Buffer.from((plain[0] ?? '').split('.').map(Number));
    case RRType.AAAA:
      if (plain.length !== 1 || !isIPv6(plain[0] ?? '') || (plain[0] ?? '').includes('.')) throw new PresentationError(`AAAA: expected an IPv6 address, got "${plain.join(' ')}"`);
      return ipv6Bytes(plain[0] ?? '');
    case RRType.PTR:
    case RRType.CNAME:
    case RRType.NS:
      if (plain.length !== 1) throw new PresentationError(`${typeName(type)}: expected one domain name`);
      return encodeName(absolute(plain[0] ?? ''));
    case RRType.MX:
      if (plain.length !== 2) throw new PresentationError('MX: expected "preference exchange"');
      return Buffer.concat([u16(plain[0], 'MX preference'), encodeName(absolute(plain[1] ?? ''))]);
    case RRType.SRV:
      if (plain.length !== 4) throw new PresentationError('SRV: expected "priority weight port target"');
      return Buffer.concat([u16(plain[0], 'SRV priority'), u16(plain[1], 'SRV weight'), u16(plain[2], 'SRV port'), encodeName(absolute(plain[3] ?? ''))]);
    case RRType.TXT: {
      const parts = args.map((a) => unescapeText(a.text));
      for (const p of parts) if (p.length > 255) throw new PresentationError('TXT: a string is longer than 255 bytes');
      return Buffer.concat(parts.flatMap((p) => [Buffer.from([p.length]), p]));
    }
    default:
      throw new PresentationError(`${typeName(type)}: use the generic form "\\# <length> <hex>" for this type`);
  }
}

/**
 * Parse `owner [ttl] [IN] TYPE rdata…` (the owner must be absolute or is made so). `defaultTtl`
 * applies when the line has none.
 */
export function parseRecordLine(line: string, defaultTtl: number): ResourceRecord {
  const tokens = tokenize(line.trim());
  const owner = tokens.shift();
  if (!owner || owner.quoted) throw new PresentationError(`"${line}": expected "name [ttl] [IN] TYPE data"`);
  let ttl = defaultTtl;
  if (tokens[0] && /^\d+$/.test(tokens[0].text)) ttl = Number(tokens.shift()?.text);
  if (tokens[0]?.text.toUpperCase() === 'IN') tokens.shift();
  const typeToken = tokens.shift();
  const type = typeToken ? parseTypeName(typeToken.text) : undefined;
  if (type === undefined) throw new PresentationError(`"${line}": unknown or missing record type "${typeToken?.text ?? ''}"`);
  if (tokens.length === 0) throw new PresentationError(`"${line}": missing record data`);
  return { name: absolute(owner.text), type, class: RRClass.IN, ttl, data: encodeRdata(type, tokens) };
}
