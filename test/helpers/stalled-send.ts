import { sendOffThread } from '../../src/lib/nft/netlink/nfnl-socket.js';

/**
 * An off-thread netlink send whose first `stalls` calls wait `ms` before really sending, as a send
 * does while another process holds the nf_tables commit mutex (the stalled request still reaches
 * the kernel, late). `calls` counts every send.
 */
export function stalledSend(ms: number, stalls = 1): { send: typeof sendOffThread; calls: () => number; settled: () => Promise<void> } {
  let n = 0;
  const pending: Promise<unknown>[] = [];
  return {
    calls: () => n,
    settled: async () => {
      await Promise.allSettled(pending);
    },
    send(fd, msg) {
      if (n++ >= stalls) return sendOffThread(fd, msg);
      const copy = Buffer.from(msg);
      const p = new Promise<void>((r) => setTimeout(r, ms)).then(() => sendOffThread(fd, copy));
      pending.push(p);
      return p;
    },
  };
}
