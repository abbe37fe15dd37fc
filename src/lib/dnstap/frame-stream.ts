/**
 * Frame Streams (farsightsec/fstrm, "fstrm protocol", doc/fstrm.md), the receiving side of a
 * *bidirectional* stream: Unbound's dnstap I/O thread connects as the writer and does
 *
 *     writer → READY  (content types it can send)        reader → ACCEPT (the one we take)
 *     writer → START  (content type)                     writer → data frames …
 *     writer → STOP                                      reader → FINISH, both close
 *
 * Wire format (all integers 32-bit big-endian): a data frame is `length, payload` with length > 0;
 * a control frame is the escape `0`, then `control length`, then `control type` and fields
 * `field type, field length, bytes` (only CONTENT_TYPE = 1 is defined). libfstrm caps control frames
 * at 512 bytes and content types at 256.
 *
 * This is the protocol only (no socket): feed it chunks, it calls back with bytes to write, data
 * frames and one end. Chunks are kept as a list and joined only once a whole frame is there, so a
 * frame trickling in a byte at a time costs O(frame), not O(frame²). It never throws on input; any
 * violation ends the session with a reason (the server then drops the connection and counts it).
 */

export const DNSTAP_CONTENT_TYPE = 'protobuf:dnstap.Dnstap';
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/** fstrm control.h: FSTRM_CONTROL_FRAME_LENGTH_MAX, FSTRM_CONTROL_FIELD_CONTENT_TYPE_LENGTH_MAX. */
const MAX_CONTROL_BYTES = 512;
const MAX_CONTENT_TYPE_BYTES = 256;

export const ControlType = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;
const FIELD_CONTENT_TYPE = 1;

/** Why a session ended other than by STOP/FINISH (a bounded set: a metric label). */
export type FrameStreamError =
  | 'unexpected-data' // a data frame before START (random bytes land here: their first word is a length)
  | 'oversize' // a data frame longer than maxFrameBytes
  | 'bad-control' // control frame too short/long, or its fields overrun it
  | 'unexpected-control' // a control type not valid in this state (ACCEPT/FINISH from a writer, READY twice…)
  | 'content-type' // READY/START without our content type: we never ACCEPT it
  | 'truncated'; // the connection ended inside a frame

export const FRAME_STREAM_ERRORS: readonly FrameStreamError[] = ['unexpected-data', 'oversize', 'bad-control', 'unexpected-control', 'content-type', 'truncated'];

export type SessionEnd =
  /** STOP received, FINISH sent. */
  | { readonly kind: 'finished' }
  /** The peer went away between frames without STOP (Unbound killed or restarting). */
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly reason: FrameStreamError };

export interface FrameStreamHandlers {
  /** Bytes for the peer (ACCEPT, FINISH). */
  write(bytes: Uint8Array): void;
  /**
   * One data frame's payload. A view into a buffer this session never writes to again, so keeping
   * it is safe (it keeps its chunk alive, ≤ maxFrameBytes plus one read).
   */
  data(payload: Uint8Array): void;
  /** Called once; no callbacks follow it. */
  end(outcome: SessionEnd): void;
}

export interface FrameStreamOptions {
  readonly contentType?: string;
  readonly maxFrameBytes?: number;
}

type State = 'ready' | 'start' | 'data' | 'done';

export class FrameStreamSession {
  private state: State = 'ready';
  private chunks: Buffer[] = [];
  private have = 0;
  /** Bytes the next parse step needs; no join happens below this. */
  private need = 4;
  private readonly contentType: string;
  private readonly maxFrameBytes: number;

  constructor(
    private readonly handlers: FrameStreamHandlers,
    opts: FrameStreamOptions = {},
  ) {
    this.contentType = opts.contentType ?? DNSTAP_CONTENT_TYPE;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  /** START seen: the handshake is over, data frames may follow (or not, for a long while). */
  get streaming(): boolean {
    return this.state === 'data';
  }

  push(chunk: Buffer): void {
    if (this.state === 'done' || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.have < this.need) return;
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.have);
    const used = this.parse(buf);
    if (this.finished) return; // parse may have ended the session (state changes behind TS's narrowing)
    const rest = buf.subarray(used);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.have = rest.length;
  }

  /** The peer closed its side (or the socket failed). */
  eof(): void {
    if (this.state === 'done') return;
    if (this.have > 0) this.fail('truncated');
    else this.finish({ kind: 'closed' });
  }

  /** Parses whole frames from `buf`; returns the bytes consumed and sets `need` for the rest. */
  private parse(buf: Buffer): number {
    let off = 0;
    for (;;) {
      const left = buf.length - off;
      if (left < 4) return this.wait(off, 4);
      const len = buf.readUInt32BE(off);
      if (len !== 0) {
        // Decide before buffering the body: junk must not make us hold 4 GiB waiting for it.
        if (this.state !== 'data') return this.fail('unexpected-data');
        if (len > this.maxFrameBytes) return this.fail('oversize');
        if (left < 4 + len) return this.wait(off, 4 + len);
        this.handlers.data(buf.subarray(off + 4, off + 4 + len));
        off += 4 + len;
        if (this.state !== 'data') return off; // the data callback closed us
        continue;
      }
      if (left < 8) return this.wait(off, 8);
      const clen = buf.readUInt32BE(off + 4);
      if (clen < 4 || clen > MAX_CONTROL_BYTES) return this.fail('bad-control');
      if (left < 8 + clen) return this.wait(off, 8 + clen);
      this.control(buf.subarray(off + 8, off + 8 + clen));
      off += 8 + clen;
      if (this.state === 'done') return off;
    }
  }

  private wait(off: number, bytes: number): number {
    this.need = bytes;
    return off;
  }

  private control(frame: Buffer): void {
    const type = frame.readUInt32BE(0);
    const types: string[] = [];
    let off = 4;
    while (off < frame.length) {
      if (frame.length - off < 8) return void this.fail('bad-control');
      const ftype = frame.readUInt32BE(off);
      const flen = frame.readUInt32BE(off + 4);
      if (flen > frame.length - off - 8) return void this.fail('bad-control');
      if (ftype === FIELD_CONTENT_TYPE) {
        if (flen > MAX_CONTENT_TYPE_BYTES) return void this.fail('bad-control');
        types.push(frame.toString('latin1', off + 8, off + 8 + flen));
      }
      off += 8 + flen; // unknown field types are skipped (fstrm: reserved for extensions)
    }
    switch (this.state) {
      case 'ready':
        if (type === ControlType.READY) {
          // fstrm: ACCEPT carries the content types the reader takes out of those READY offered.
          if (!types.includes(this.contentType)) return void this.fail('content-type');
          this.handlers.write(controlFrame(ControlType.ACCEPT, this.contentType));
          this.state = 'start';
          return;
        }
        // A unidirectional writer starts with START: nothing to answer, same checks.
        if (type === ControlType.START) return this.start(types);
        return void this.fail('unexpected-control');
      case 'start':
        if (type === ControlType.START) return this.start(types);
        return void this.fail('unexpected-control');
      case 'data':
        if (type === ControlType.STOP) {
          this.handlers.write(controlFrame(ControlType.FINISH));
          this.finish({ kind: 'finished' });
          return;
        }
        return void this.fail('unexpected-control');
      case 'done':
        return;
      default: {
        const never: never = this.state;
        return never;
      }
    }
  }

  private start(types: readonly string[]): void {
    // START names at most one content type; none means "the one agreed" (fstrm.md).
    if (types.length > 1 || (types.length === 1 && types[0] !== this.contentType)) return void this.fail('content-type');
    this.state = 'data';
  }

  private fail(reason: FrameStreamError): number {
    this.finish({ kind: 'error', reason });
    return 0;
  }

  private finish(outcome: SessionEnd): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.chunks = [];
    this.have = 0;
    this.handlers.end(outcome);
  }
}

/** A control frame with an optional CONTENT_TYPE field: escape, length, type, fields. */
export function controlFrame(type: number, contentType?: string): Buffer {
  const ct = contentType === undefined ? undefined : Buffer.from(contentType, 'latin1');
  const clen = 4 + (ct ? 8 + ct.length : 0);
  const out = Buffer.alloc(8 + clen);
  out.writeUInt32BE(0, 0);
  out.writeUInt32BE(clen, 4);
  out.writeUInt32BE(type, 8);
  if (ct) {
    out.writeUInt32BE(FIELD_CONTENT_TYPE, 12);
    out.writeUInt32BE(ct.length, 16);
    ct.copy(out, 20);
  }
  return out;
}
