import { createSocket, type RemoteInfo } from 'node:dgram';
import makeMdns from 'multicast-dns';
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
  /** Socket errors after opening (the socket is unusable; the owner should reopen it). */
  readonly onError: (err: Error) => void;
}

/**
 * A multicast-dns instance on a socket we create, bind and configure ourselves. What multicast-dns
 * (7.2) cannot do for a one-shot querier beside Avahi, and what we do instead:
 * - `port: 0` makes it skip `bind()` entirely, and after the first implicit bind it rewrites its
 *   default destination to the ephemeral port, so its `query()` would then go to 224.0.0.251:<eph>.
 *   We bind explicitly and send with an explicit destination.
 * - Its membership/`setMulticastInterface` logic assumes IPv4 addresses and the 5353 socket; a
 *   one-shot querier need not join the group at all (replies are unicast, RFC 6762 §5.1/§6.7), so
 *   `multicast: false` and we set the outgoing interface, TTL 255 (§11) and loopback here.
 * - Its decoder is lossy for names (see response-reader.ts) and slow on junk (below), so it is
 *   detached and we read raw datagrams from the socket.
 * What it still does: the socket's error classification (EACCES/EADDRINUSE are errors, the rest
 * warnings) and `destroy()`. That is little; it stays so these sockets report errors the way
 * multicast-dns reports them for its own.
 */
export function openInterfaceSocket(target: QueryTarget, handlers: InterfaceSocketHandlers): Promise<InterfaceSocket> {
  const type = target.family === 4 ? 'udp4' : 'udp6';
  const socket = createSocket({ type, reuseAddr: false });
  const mdns = makeMdns({
    socket,
    type,
    port: 0,
    multicast: false,
    ip: target.family === 4 ? GROUP_V4 : GROUP_V6,
    // IPv6 requires `interface` (it throws without); it is not used with multicast: false.
    interface: target.family === 4 ? target.address : `::%${target.ifname}`,
  });
  // Detach its decoder from our socket: dns-packet spends ~0.9 ms of event-loop time on one random
  // 12–1500-byte datagram (measured, Node 20), so any LAN host could stall the whole daemon with
  // ~1000 junk packets a second; our reader takes ~13 µs. (Its 'error'/'listening' handlers stay.)
  socket.removeAllListeners('message');
  mdns.on('warning', () => undefined);
  const destination = target.family === 4 ? GROUP_V4 : `${GROUP_V6}%${target.ifname}`;
  let closed = false;

  return new Promise<InterfaceSocket>((resolve, reject) => {
    const failOpen = (err: Error): void => {
      closed = true;
      mdns.destroy();
      reject(err);
    };
    mdns.once('error', failOpen);
    socket.once('error', failOpen);
    // IPv4: bind the interface address, so replies to us are tied to this interface and the source
    // address responders see is the one on their link. IPv6: bind `::` (the link-local address may
    // still be tentative under DAD, which refuses a bind); the scope goes in the multicast interface.
    socket.bind({ port: 0, address: target.family === 4 ? target.address : '::' }, () => {
      socket.off('error', failOpen);
      mdns.off('error', failOpen);
      try {
        socket.setMulticastInterface(target.family === 4 ? target.address : `::%${target.ifname}`);
        socket.setMulticastTTL(255);
        socket.setMulticastLoopback(true); // the router's own responder (Avahi, resolved) answers too
      } catch (err) {
        failOpen(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      socket.on('message', handlers.onMessage);
      mdns.on('error', (err: Error) => {
        if (!closed) handlers.onError(err);
      });
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
            mdns.destroy(() => done());
          }),
      });
    });
  });
}
