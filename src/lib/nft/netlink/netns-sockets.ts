import { statSync } from 'node:fs';
import { SerialQueue } from '../../concurrency/index.js';
import { NfnlSocket } from './nfnl-socket.js';

/**
 * One socket per namespace and the queue that keeps its requests one at a time. The queue belongs
 * to the socket: a request queued behind one that failed runs on that socket, and a fresh socket
 * (after a deadline or an error) starts with an empty queue.
 */
export interface Conn {
  readonly sock: NfnlSocket;
  readonly queue: SerialQueue;
}

/**
 * Netfilter sockets by namespace (undefined = ours), each re-created when /run/netns/NAME now
 * names another namespace (deleted and added again: a new inode) or when it is no longer usable
 * (abandoned past a deadline, closed), and dropped after an error so the next request starts on a
 * fresh socket. The writer (netlink-backend.ts) and the reader (set-reader.ts) each keep one.
 */
export class NetnsSockets {
  private readonly conns = new Map<string, Conn>();

  get(netns: string | undefined): Conn {
    const key = netns ?? '';
    let c = this.conns.get(key);
    if (c && (!c.sock.usable || (netns !== undefined && statSync(`/run/netns/${netns}`, { bigint: true }).ino !== c.sock.nsIno))) {
      c.sock.close();
      c = undefined;
    }
    if (!c) {
      c = { sock: NfnlSocket.open(netns), queue: new SerialQueue() };
      this.conns.set(key, c);
    }
    return c;
  }

  /** The namespace's socket if one is open and usable; never opens one. */
  peek(netns: string | undefined): NfnlSocket | undefined {
    const s = this.conns.get(netns ?? '')?.sock;
    return s?.usable ? s : undefined;
  }

  /** Closes `c` and forgets it (if it is still the namespace's socket). */
  drop(netns: string | undefined, c: Conn): void {
    c.sock.close();
    if (this.conns.get(netns ?? '') === c) this.conns.delete(netns ?? '');
  }

  closeAll(): void {
    for (const c of this.conns.values()) c.sock.close();
    this.conns.clear();
  }
}
