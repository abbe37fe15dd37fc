import type { Socket } from 'node:net';

/**
 * Split a TCP byte stream into DNS messages, each preceded by a 2-byte length (RFC 1035 §4.2.2,
 * RFC 7766 §8). Pull-based, so the connection can stop taking messages while too many are in
 * flight and leave the rest buffered (with the socket paused, that buffer stays bounded).
 *
 * Why not dns2's TCP reader: it re-concatenates the whole buffer on every chunk (quadratic for a
 * frame trickled in small pieces), hands out every frame in a chunk at once (no in-flight cap),
 * and on idle timeout only half-closes, which with its `allowHalfOpen: true` keeps a silent
 * peer's socket open forever.
 */
export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being assembled, once its prefix is in; -1 before. */
  private need = -1;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete message (without its prefix), or undefined until more bytes arrive. */
  shift(): Buffer | undefined {
    if (this.need < 0) {
      if (this.buffered < 2) return undefined;
      const prefix = this.take(2);
      this.need = ((prefix[0] as number) << 8) | (prefix[1] as number);
    }
    if (this.buffered < this.need) return undefined;
    const frame = this.take(this.need);
    this.need = -1;
    return frame;
  }

  /** True when the stream stopped inside a frame (a prefix byte, or a frame shorter than promised). */
  partial(): boolean {
    return this.need >= 0 || this.buffered > 0;
  }

  /** Bytes held (for tests and to reason about the memory bound). */
  size(): number {
    return this.buffered;
  }

  /** Remove and return the first `n` buffered bytes: a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/**
 * Wire a socket's reads into `frames`: `pump` runs on every chunk, on 'drain' (writes may resume)
 * and once more after the peer's FIN (`ended` is called first), so the owner has one place that
 * takes messages and decides whether to keep reading.
 */
export function feedFrames(socket: Socket, frames: FrameSplitter, pump: () => void, ended: () => void): void {
  socket.on('data', (chunk: Buffer) => {
    frames.push(chunk);
    pump();
  });
  socket.on('drain', pump);
  socket.on('end', () => {
    ended();
    pump();
  });
}
