/**
 * A hand-written Frame Streams writer for tests: the client side Unbound plays (READY → ACCEPT →
 * START → frames → STOP → FINISH), written from the fstrm spec rather than from our server code so
 * the two can disagree. Also builds dnstap payloads with the embedded schema.
 */
import { connect, type Socket } from 'node:net';
import { DnstapSchema } from '../../../src/lib/dnstap/dnstap-decode.js';

export const CT = 'protobuf:dnstap.Dnstap';

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** escape, length, type, CONTENT_TYPE fields. */
export function control(type: number, ...contentTypes: string[]): Buffer {
  const fields = contentTypes.map((ct) => Buffer.concat([u32(1), u32(Buffer.byteLength(ct)), Buffer.from(ct)]));
  const body = Buffer.concat([u32(type), ...fields]);
  return Buffer.concat([u32(0), u32(body.length), body]);
}

export const READY = (...cts: string[]): Buffer => control(4, ...(cts.length ? cts : [CT]));
export const START = (...cts: string[]): Buffer => control(2, ...(cts.length ? cts : [CT]));
export const STOP = (): Buffer => control(3);

export function frame(payload: Uint8Array): Buffer {
  return Buffer.concat([u32(payload.length), payload]);
}

/** A dnstap MESSAGE payload (CLIENT_RESPONSE unless `type` says otherwise). */
export function dnstapPayload(fields: { type?: number; response?: Uint8Array; identity?: string; responseTimeSec?: number; responseTimeNsec?: number } = {}): Uint8Array {
  const msg = DnstapSchema.Message.create({
    type: fields.type ?? 6,
    socket_family: 1,
    socket_protocol: 1,
    query_address: Uint8Array.from([127, 0, 0, 1]),
    query_port: 53000,
    response_time_sec: fields.responseTimeSec ?? 1_700_000_000,
    response_time_nsec: fields.responseTimeNsec ?? 500_000_000,
    ...(fields.response ? { response_message: fields.response } : {}),
  });
  const top = DnstapSchema.Dnstap.create({ type: 1, message: msg, ...(fields.identity ? { identity: Buffer.from(fields.identity) } : {}) });
  return DnstapSchema.Dnstap.encode(top).finish();
}

/** A connected client that records everything the server sends and when it closes. */
export class FstrmClient {
  received = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<FstrmClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new FstrmClient(s)));
      s.once('error', reject);
    });
  }

  send(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** Writes `bytes` in pieces of `size`, yielding to the event loop between them. */
  async trickle(bytes: Uint8Array, size: number): Promise<void> {
    for (let i = 0; i < bytes.length; i += size) {
      await this.send(bytes.subarray(i, i + size));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Resolves once `n` bytes have arrived, or the connection closed (then with what there is). */
  async bytes(n: number, timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n && !this.closed) {
      if (Date.now() > deadline) throw new Error(`fstrm client: ${this.received.length}/${n} bytes after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.received.subarray(0, n);
  }

  async waitClosed(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('fstrm client: server did not close the connection');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** READY → expect ACCEPT → START. Returns the ACCEPT bytes. */
  async handshake(): Promise<Buffer> {
    await this.send(READY());
    const accept = await this.bytes(control(1, CT).length);
    await this.send(START());
    return accept;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
