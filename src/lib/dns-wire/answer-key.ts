import { HEADER_SIZE, skipName } from './compressed-name.js';

/**
 * What a response's answer section says, as one string, without decoding a name: the question
 * and answer counts, then every byte from the question to the end of the answer section except the
 * answer records' TTLs. Two responses with the same key have the same question and the same answer
 * records (owners, types, classes, rdata) at the same offsets; they differ at most in ID, flags,
 * TTLs and the sections after the answers. That holds because a name's compression pointers may only
 * aim backwards and never into the header (compressed-name.ts, RFC 1035 §4.1.4): nothing outside the
 * keyed bytes can change how the answer section reads. A resolver answering a name from its cache
 * sends the same key every time, with TTLs counting down.
 *
 * Undefined when the message cannot be walked (the full reader then says what is wrong) or the keyed
 * part is over `maxBytes`.
 */
export function answerKey(msg: Uint8Array, maxBytes: number): string | undefined {
  if (msg.length < HEADER_SIZE) return undefined;
  const qd = ((msg[4] as number) << 8) | (msg[5] as number);
  const an = ((msg[6] as number) << 8) | (msg[7] as number);
  if (qd > 1) return undefined;
  let off = HEADER_SIZE;
  if (qd === 1) {
    off = skipName(msg, off, msg.length);
    if (off < 0 || off + 4 > msg.length) return undefined;
    off += 4;
  }
  const buf = Buffer.isBuffer(msg) ? msg : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  let key = String.fromCharCode(qd, an >> 8, an & 0xff);
  let from = HEADER_SIZE;
  for (let i = 0; i < an; i++) {
    off = skipName(msg, off, msg.length);
    if (off < 0 || off + 10 > msg.length) return undefined;
    const rdlen = ((msg[off + 8] as number) << 8) | (msg[off + 9] as number);
    const ttlAt = off + 4;
    off += 10 + rdlen;
    if (off > msg.length || off - HEADER_SIZE > maxBytes) return undefined;
    key += buf.toString('latin1', from, ttlAt);
    from = ttlAt + 4;
  }
  if (off - HEADER_SIZE > maxBytes) return undefined;
  return key + buf.toString('latin1', from, off);
}
