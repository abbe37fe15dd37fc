import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { QueryHandler, ReplyChannel } from './query-handler.js';

/**
 * One UDP socket (node:dgram) whose datagrams go, raw, to the query handler: it reads them itself
 * (`../lib/dns-wire/request-reader.ts`), answers what it cannot parse with FORMERR and the request's
 * ID, and echoes the question from the request's bytes. Replies are sent with one shared callback
 * and no per-reply Promise. (dns2's `UDPServer` once held this socket; its message path parsed
 * every datagram with `Packet.parse`, which runs past 3 s on a 64 KiB pointer chain — see
 * `bench/dns-decoders.bench.ts` — so none of it was left in use.)
 */
export class UdpListener implements ReplyChannel<RemoteInfo> {
  readonly tcp = false;
  private readonly socket: Socket;
  private open = false;
  private readonly onSent: (err: Error | null) => void;

  constructor(
    host: string,
    private readonly handler: QueryHandler,
    private readonly logger: Logger,
  ) {
    this.socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket.on('message', (data, rinfo) => this.handler.handle(data, this, rinfo));
    this.onSent = (err) => {
      if (err) this.logger.debug({ err }, 'dns-server: udp send failed');
    };
  }

  reply(rinfo: RemoteInfo, msg: Buffer | undefined): void {
    if (msg === undefined || !this.open) return;
    try {
      this.socket.send(msg, rinfo.port, rinfo.address, this.onSent);
    } catch (err) {
      this.logger.debug({ err }, 'dns-server: udp send failed');
    }
  }

  /** Bind; rejects with the socket error. */
  bindTo(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address: host, port, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.open = true;
        // After bind, socket errors (ICMP-driven on some kernels) are logged, never fatal.
        this.socket.on('error', (err) => this.logger.warn({ err }, 'dns-server: udp socket error'));
        resolve(this.socket.address().port);
      });
    });
  }

  shutdown(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
