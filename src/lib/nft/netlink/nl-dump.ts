import { EAGAIN, EINTR, errnoText, libc, MSG_DONTWAIT } from '../../libc/libc.js';
import type { NfnlSocket } from './nfnl-socket.js';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN } from './nl-writer.js';

/**
 * One netlink dump (NLM_F_DUMP) read message by message into ONE fixed buffer.
 *
 * How the kernel produces a dump (net/netlink/af_netlink.c): netlink_dump_start() fills the first
 * skb inside our send(2); every later skb is filled inside our recvmsg(2) (netlink_recvmsg calls
 * netlink_dump once the queue is below half of sk_rcvbuf). So at most a skb or two is queued at any
 * time, each at most ~32 KiB (max_recvmsg_len is capped at SKB_WITH_OVERHEAD(32768)), and a
 * non-blocking recv never finds the queue empty before NLMSG_DONE. Memory is this buffer plus what
 * `onMessage` keeps. The kernel work of each part runs inside our recv — up to hundreds of ms for a
 * big set (below) — so recv runs on a libuv threadpool thread (koffi `.async`) and the event loop
 * keeps serving DNS; only decoding runs on the main thread.
 *
 * nf_tables restarts the set walk from the first element for every part (nf_tables_dump_set:
 * `iter.skip = cb->args[0]`), so a dump of n elements costs O(n²/parts) kernel time — the
 * quadratic listing cost is the kernel's, what we avoid is nft's JSON and cache on top of it.
 */

export const NLM_F_DUMP = 0x300; // NLM_F_ROOT | NLM_F_MATCH
/** linux/netlink.h: the dump was interrupted by a change; its parts may be inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
const BUF_BYTES = 64 * 1024;

/** recv(2) on the threadpool. errno is thread-local and lost there: a -1 is retried on the main thread to learn it. */
function recvOffThread(fd: number, buf: Buffer): Promise<number> {
  return libc().recvAsync(fd, buf, buf.length, MSG_DONTWAIT);
}

export type DumpResult = { kind: 'done'; interrupted: boolean } | { kind: 'error'; errno: number };

/**
 * Sends `request` (a whole GET… message with NLM_F_DUMP, sequence `seq`) and calls `onMessage`
 * with each answer's type and attribute payload (a view into the shared buffer: copy what you keep).
 * Rejects on socket errors and when `deadline` (a performance.now() value) passes; the caller
 * closes the socket then, which ends the dump in the kernel (netlink_release).
 */
export async function dump(sock: NfnlSocket, request: Buffer, seq: number, onMessage: (type: number, payload: Buffer) => void, deadline: number): Promise<DumpResult> {
  const c = libc();
  const buf = Buffer.allocUnsafe(BUF_BYTES);
  for (;;) {
    const r = c.send(sock.fd, request, request.length, 0);
    if (r >= 0) break;
    const e = c.errno();
    if (e !== EINTR) throw new Error(`netlink: send(dump request): ${errnoText(e)}`);
  }
  let interrupted = false;
  for (;;) {
    let n = await recvOffThread(sock.fd, buf);
    if (n < 0) n = c.recv(sock.fd, buf, buf.length, MSG_DONTWAIT);
    if (n < 0) {
      const e = c.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw new Error(`netlink: recv(dump): ${errnoText(e)}`);
      // Not expected (see above), but never spin: wait a little, bounded by the deadline.
      if (performance.now() > deadline) throw new Error('netlink: dump deadline passed');
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    for (let at = 0; at + NLMSG_HDRLEN <= n; ) {
      const start = at;
      const len = buf.readUInt32LE(at);
      if (len < NLMSG_HDRLEN || at + len > n) throw new Error(`netlink: malformed dump message (length ${len} at ${at} of ${n})`);
      const type = buf.readUInt16LE(at + 4);
      const flags = buf.readUInt16LE(at + 6);
      const mseq = buf.readUInt32LE(at + 8);
      at += (len + 3) & ~3;
      // Late answers to an earlier request on this socket are not part of this dump.
      if (mseq !== seq) continue;
      if ((flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
      // NLMSG_ERROR carries -errno (0 = ack); NLMSG_DONE carries the dump's result (negative = failed).
      const code = (type === NLMSG_ERROR || type === NLMSG_DONE) && len >= NLMSG_HDRLEN + 4 ? buf.readInt32LE(start + NLMSG_HDRLEN) : 0;
      if (code < 0) return { kind: 'error', errno: -code };
      if (type === NLMSG_DONE) return { kind: 'done', interrupted };
      if (type !== NLMSG_ERROR) onMessage(type, buf.subarray(start + NLMSG_HDRLEN, start + len));
    }
    if (performance.now() > deadline) throw new Error('netlink: dump deadline passed');
  }
}
