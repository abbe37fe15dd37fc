import { createSocket, type RemoteInfo } from 'node:dgram';
import type { QueryTarget } from './interfaces.js';

export const MDNS_PORT = 5353;
const GROUP_V4 = '224.0.0.251';
const GROUP_V6 = 'ff02::fb';

/** One querier socket: one interface, one family, an ephemeral port. */
export interface InterfaceSocket {
  readonly target: QueryTarget;
  /** The ephemeral port replies come back to. */
  readonly port: number;
  /** Sends one datagram to the mDNS group on this interface; false when the kernel refused it. */
  send(packet: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

export interface InterfaceSocketHandlers {
  /** Every datagram, raw (we parse it ourselves: see response-reader.ts). */
  readonly onMessage: (msg: Buffer, rinfo: RemoteInfo) => void;
  /** Socket errors after opening that leave it unusable (EACCES, EADDRINUSE; see below): the owner should reopen it. */
  readonly onError: (err: Error) => void;
}

/**
 * One node:dgram socket per interface and family, configured for a one-shot querier beside Avahi
 * (RFC 6762 §5.1): an ephemeral port (replies come back by unicast, §6.7, so no group membership
 * and no reuse of 5353, which Avahi holds), the outgoing multicast interface, TTL 255 (§11) and
 * loopback (the router's own responder answers too). Raw datagrams go to `onMessage`, parsed by
 * response-reader.ts.
 *
 * multicast-dns 7.2 used to wrap this socket; none of it was left doing work. Its decoder
 * (dns-packet) spends ~0.86 ms of event-loop time on one random 12–1500-byte datagram against
 * ~1.4 µs for our reader (bench/dns-decoders.bench.ts), so it was detached from the start; its
 * `port: 0` path skips `bind()` and then rewrites its destination to the ephemeral port; its
 * membership and interface logic assumes IPv4 and the 5353 socket. What remained was its error
 * filter, kept here: after opening only EACCES and EADDRINUSE are errors, the rest (an ICMP-driven
 * send error, say) is ignored as its 'warning' was
 * (https://github.com/mafintosh/multicast-dns/blob/master/index.js).
 */
export function openInterfaceSocket(target: QueryTarget, handlers: InterfaceSocketHandlers): Promise<InterfaceSocket> {
  const socket = createSocket({ type: target.family === 4 ? 'udp4' : 'udp6', reuseAddr: false });
  const destination = target.family === 4 ? GROUP_V4 : `${GROUP_V6}%${target.ifname}`;
  let opened = false;
  let closed = false;
  // From creation on, so no socket error is ever left without a listener (an unhandled one throws).
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (opened && !closed && (err.code === 'EACCES' || err.code === 'EADDRINUSE')) handlers.onError(err);
  });

  return new Promise<InterfaceSocket>((resolve, reject) => {
    const failOpen = (err: Error): void => {
      closed = true;
      socket.close();
      reject(err);
    };
    socket.once('error', failOpen);
    // IPv4: bind the interface address, so replies to us are tied to this interface and the source
    // address responders see is the one on their link. IPv6: bind `::` (the link-local address may
    // still be tentative under DAD, which refuses a bind); the scope goes in the multicast interface.
    socket.bind({ port: 0, address: target.family === 4 ? target.address : '::' }, () => {
      socket.off('error', failOpen);
      try {
        socket.setMulticastInterface(target.family === 4 ? target.address : `::%${target.ifname}`);
        socket.setMulticastTTL(255);
        socket.setMulticastLoopback(true);
      } catch (err) {
        failOpen(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      socket.on('message', handlers.onMessage);
      opened = true;
      resolve({
        target,
        port: socket.address().port,
        send: (packet) =>
          new Promise<boolean>((done) => {
            if (closed) return done(false);
            socket.send(packet, MDNS_PORT, destination, (err) => done(!err));
          }),
        close: () =>
          new Promise<void>((done) => {
            if (closed) return done();
            closed = true;
            socket.close(() => done());
          }),
      });
    });
  });
}
