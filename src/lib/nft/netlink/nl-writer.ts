/**
 * Netlink message and attribute layout (linux/netlink.h, include/net/netlink.h): a 16-byte
 * `nlmsghdr` in host byte order, then for nfnetlink a 4-byte `nfgenmsg`, then attributes, each a
 * 4-byte `nlattr` header (length incl. header, type) padded to 4 bytes. A growable buffer so a
 * million elements become one contiguous send without a million small Buffers.
 */

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
/** linux/netlink.h: nests are flagged; libmnl's mnl_attr_nest_start sets it, the kernel accepts it. */
export const NLA_F_NESTED = 0x8000;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_CREATE = 0x400;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

const align4 = (n: number): number => (n + 3) & ~3;

export class NlWriter {
  buf: Buffer;
  len = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Starts a message (nlmsghdr + nfgenmsg); returns its offset for `endMsg`. */
  beginMsg(type: number, flags: number, seq: number, family: number, resId: number): number {
    this.ensure(NLMSG_HDRLEN + 4);
    const at = this.len;
    const b = this.buf;
    b.writeUInt32LE(0, at); // patched by endMsg (host order: x86/arm little-endian Linux)
    b.writeUInt16LE(type, at + 4);
    b.writeUInt16LE(flags, at + 6);
    b.writeUInt32LE(seq >>> 0, at + 8);
    b.writeUInt32LE(0, at + 12); // pid 0: the kernel
    b.writeUInt8(family, at + 16);
    b.writeUInt8(0, at + 17); // NFNETLINK_V0
    b.writeUInt16BE(resId, at + 18); // nfgenmsg.res_id is big-endian
    this.len += NLMSG_HDRLEN + 4;
    return at;
  }

  endMsg(at: number): void {
    this.buf.writeUInt32LE(this.len - at, at);
  }

  /** Adds to the flags of a finished message (NLM_F_ACK on the last one of a batch). */
  orFlags(at: number, flags: number): void {
    this.buf.writeUInt16LE(this.buf.readUInt16LE(at + 6) | flags, at + 6);
  }

  beginNest(type: number): number {
    this.ensure(NLA_HDRLEN);
    const at = this.len;
    this.buf.writeUInt16LE(type | NLA_F_NESTED, at + 2);
    this.len += NLA_HDRLEN;
    return at;
  }

  endNest(at: number): void {
    this.buf.writeUInt16LE(this.len - at, at);
  }

  /** A NUL-terminated string attribute (nla_strscpy on the kernel side). */
  str(type: number, s: string): void {
    const bytes = Buffer.byteLength(s) + 1;
    this.ensure(NLA_HDRLEN + align4(bytes));
    const at = this.len;
    this.buf.writeUInt16LE(NLA_HDRLEN + bytes, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.write(s, at + 4);
    this.buf.fill(0, at + 4 + bytes - 1, at + NLA_HDRLEN + align4(bytes));
    this.len += NLA_HDRLEN + align4(bytes);
  }

  be32(type: number, v: number): void {
    this.ensure(8);
    this.buf.writeUInt16LE(8, this.len);
    this.buf.writeUInt16LE(type, this.len + 2);
    this.buf.writeUInt32BE(v >>> 0, this.len + 4);
    this.len += 8;
  }

  be64(type: number, v: bigint): void {
    this.ensure(12);
    this.buf.writeUInt16LE(12, this.len);
    this.buf.writeUInt16LE(type, this.len + 2);
    this.buf.writeBigUInt64BE(v, this.len + 4);
    this.len += 12;
  }

  /** An attribute holding `data` as it is (NLA_BINARY: a set's userdata). */
  binary(type: number, data: Uint8Array): void {
    this.ensure(NLA_HDRLEN + align4(data.length));
    this.buf.writeUInt16LE(NLA_HDRLEN + data.length, this.len);
    this.buf.writeUInt16LE(type, this.len + 2);
    this.buf.set(data, this.len + NLA_HDRLEN);
    this.buf.fill(0, this.len + NLA_HDRLEN + data.length, this.len + NLA_HDRLEN + align4(data.length));
    this.len += NLA_HDRLEN + align4(data.length);
  }

  /** An address as network-order bytes, from `w` 32-bit words at `off` (the RangeSet layout). */
  addr(type: number, words: ArrayLike<number>, off: number, w: number): void {
    this.ensure(NLA_HDRLEN + 4 * w);
    this.buf.writeUInt16LE(NLA_HDRLEN + 4 * w, this.len);
    this.buf.writeUInt16LE(type, this.len + 2);
    for (let k = 0; k < w; k++) this.buf.writeUInt32BE((words[off + k] ?? 0) >>> 0, this.len + 4 + 4 * k);
    this.len += NLA_HDRLEN + 4 * w;
  }

  /** Exactly the bytes written (a view; valid until the next write). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export interface NlResponse {
  readonly type: number;
  readonly seq: number;
  /** For NLMSG_ERROR: 0 = ack, else -errno. */
  readonly error?: number;
  readonly payload: Buffer;
}

/** Splits a datagram of netlink messages (NLMSG_ALIGN'd) into responses. */
export function parseResponses(buf: Buffer): NlResponse[] {
  const out: NlResponse[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > buf.length) break;
    const type = buf.readUInt16LE(at + 4);
    const seq = buf.readUInt32LE(at + 8);
    const payload = buf.subarray(at + NLMSG_HDRLEN, at + len);
    out.push(type === NLMSG_ERROR && payload.length >= 4 ? { type, seq, error: payload.readInt32LE(0), payload } : { type, seq, payload });
    at += align4(len);
  }
  return out;
}

/** Top-level attributes of an nfnetlink message payload (after the 4-byte nfgenmsg). */
export function parseAttrs(payload: Buffer, from = 4): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let at = from;
  while (at + NLA_HDRLEN <= payload.length) {
    const len = payload.readUInt16LE(at);
    if (len < NLA_HDRLEN || at + len > payload.length) break;
    attrs.set(payload.readUInt16LE(at + 2) & ~NLA_F_NESTED, payload.subarray(at + NLA_HDRLEN, at + len));
    at += align4(len);
  }
  return attrs;
}
