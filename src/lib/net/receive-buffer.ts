import type { Socket } from 'node:dgram';
import { SO_RCVBUFFORCE, SOL_SOCKET, setsockoptInt } from '../libc/libc.js';
import { mmsgUnavailable, socketFd } from './mmsg-vector.js';

/**
 * A UDP socket's receive buffer: what the kernel queues for it while the event loop is busy.
 * Beyond it the kernel drops datagrams (UDP RcvbufErrors in /proc/net/snmp), and the system
 * default (net.core.rmem_default, 208 KiB) holds only ~200 small datagrams: a truesize of ~1 KiB
 * each on loopback and veth. A LAN burst (a browser's parallel lookups, dnsperf at 300 queries
 * outstanding) then loses queries silently, and the client retries seconds later.
 *
 * SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN (the daemon has it for
 * nftables); without it SO_RCVBUF is capped at rmem_max (socket(7); the kernel doubles either value
 * for its bookkeeping, net/core/sock.c __sock_set_rcvbuf, and reports the doubled value).
 */
export interface ReceiveBuffer {
  /** The size the kernel now reports (SO_RCVBUF: doubled, see above). */
  readonly bytes: number;
  /** Set with SO_RCVBUFFORCE (false: SO_RCVBUF, capped by net.core.rmem_max). */
  readonly forced: boolean;
}

export function setReceiveBuffer(socket: Socket, bytes: number): ReceiveBuffer {
  const fd = mmsgUnavailable() === undefined ? socketFd(socket)?.fd : undefined;
  if (fd !== undefined && setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, Math.min(bytes, 0x3fffffff)) === 0) return { bytes: socket.getRecvBufferSize(), forced: true };
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // EPERM/ENOBUFS from setsockopt: the size the kernel kept is reported below.
  }
  return { bytes: socket.getRecvBufferSize(), forced: false };
}
