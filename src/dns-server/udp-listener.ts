import type { RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { UDPServer } from 'dns2';
import type { Logger } from 'pino';
import type { QueryHandler, ReplyChannel } from './query-handler.js';

/**
 * dns2's UDP server with its message path replaced. We keep dns2 for the socket (it *is* a
 * `dgram.Socket`) and its wiring of 'message' to `handle`; we override `handle` because dns2's
 * runs `Packet.parse` (seconds of CPU on a crafted 64 KiB datagram, see request-reader.ts), emits
 * 'requestError' for packets it cannot parse instead of letting us answer FORMERR with their ID,
 * and hands the handler a parsed `Packet` without the raw bytes we echo the question from.
 * Replies are sent with one shared callback and no per-reply Promise (dns2's `response()`).
 */
export class UdpListener extends UDPServer implements ReplyChannel<RemoteInfo> {
  readonly tcp = false;
  private open = false;
  private readonly onSent: (err: Error | null) => void;

  constructor(
    host: string,
    private readonly handler: QueryHandler,
    private readonly logger: Logger,
  ) {
    super({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.onSent = (err) => {
      if (err) this.logger.debug({ err }, 'dns-server: udp send failed');
    };
  }

  override handle(data: Buffer, rinfo: RemoteInfo): void {
    this.handler.handle(data, this, rinfo);
  }

  reply(rinfo: RemoteInfo, msg: Buffer | undefined): void {
    if (msg === undefined || !this.open) return;
    try {
      this.send(msg, rinfo.port, rinfo.address, this.onSent);
    } catch (err) {
      this.logger.debug({ err }, 'dns-server: udp send failed');
    }
  }

  /** Bind; rejects with the socket error (dns2's `listen()` never settles when bind fails). */
  bindTo(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.once('error', onError);
      this.bind({ address: host, port, exclusive: true }, () => {
        this.off('error', onError);
        this.open = true;
        // After bind, socket errors (ICMP-driven on some kernels) are logged, never fatal.
        this.on('error', (err) => this.logger.warn({ err }, 'dns-server: udp socket error'));
        resolve(this.address().port);
      });
    });
  }

  shutdown(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    return new Promise((resolve) => this.close(() => resolve()));
  }
}
