import { randomInt } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import { SerialQueue } from '../concurrency/index.js';
import { openInterfaceSocket, MDNS_PORT, type InterfaceSocket } from './interface-socket.js';
import { isOnLink, readSystemInterfaces, selectInterfaces, type QueryTarget, type SystemInterface } from './interfaces.js';
import { writeQuery } from './query-writer.js';
import { readResponse, type MdnsAnswer, type ResponseDropReason } from './response-reader.js';

/** What became of one received datagram (bounded: a metric label). */
export type PacketOutcome = 'accepted' | 'off-link' | 'bad-port' | 'oversize' | ResponseDropReason;

export interface MdnsQuerierOptions {
  readonly logger: Logger;
  /** `mdns.interfaces`; undefined = discover (see interfaces.ts). */
  readonly interfaces?: readonly string[];
  /** How often interfaces are re-read (addresses change, links come up), ms. Default 30 000. */
  readonly rescanMs?: number;
  /** The OS snapshot; tests inject one. */
  readonly readInterfaces?: () => SystemInterface[];
  readonly onPacket?: (outcome: PacketOutcome) => void;
  /** Called with the open sockets per family whenever they change. */
  readonly onSockets?: (counts: { readonly v4: number; readonly v6: number }) => void;
}

/**
 * RFC 6762 §17: an mDNS packet, IP and UDP headers included, is at most 9000 bytes. Anything larger
 * is not a response to us and is not parsed.
 */
const MAX_DATAGRAM = 9000;

/**
 * One-shot multicast DNS queries on every selected interface and family (a socket sends
 * through one multicast interface, so one socket per interface and family), with answers
 * from every socket delivered, parsed, to the `onAnswers` listeners. Interfaces are re-read every
 * `rescanMs`; `isUp()` is true while at least one socket is open.
 */
export class MdnsQuerier {
  private readonly log: Logger;
  private readonly sockets = new Map<string, InterfaceSocket>();
  private readonly opening = new Set<string>();
  private readonly stateListeners = new Set<(up: boolean) => void>();
  private readonly answerListeners = new Set<(answers: readonly MdnsAnswer[], via: QueryTarget) => void>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private up = false;
  private lastSkipped = '';
  private readonly refreshing = new SerialQueue();

  constructor(private readonly opts: MdnsQuerierOptions) {
    this.log = opts.logger;
  }

  /** Opens the first set of sockets; resolves when each has opened or failed. Never throws. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.rescanMs ?? 30_000);
    this.timer.unref();
  }

  isUp(): boolean {
    return this.up;
  }

  targets(): QueryTarget[] {
    return [...this.sockets.values()].map((s) => s.target);
  }

  onStateChange(listener: (up: boolean) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onAnswers(listener: (answers: readonly MdnsAnswer[], via: QueryTarget) => void): () => void {
    this.answerListeners.add(listener);
    return () => this.answerListeners.delete(listener);
  }

  /** Sends one query on every socket; resolves with how many took it. `name` in presentation form. */
  async query(name: string, type: number): Promise<number> {
    // The ID is not needed to match replies (name and type are), but §6.7 responders echo it.
    const packet = writeQuery(randomInt(0, 0x10000), name, type);
    const sent = await Promise.all([...this.sockets.values()].map((s) => s.send(packet)));
    return sent.filter(Boolean).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const all = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(all.map((s) => s.close()));
    this.setUp(false);
    this.stateListeners.clear();
    this.answerListeners.clear();
  }

  /** Re-reads interfaces: opens sockets for new targets, closes those whose target went away. */
  refresh(): Promise<void> {
    // Serialized: a slow rescan and the next one must not open the same socket twice.
    return this.refreshing.run(() => this.rescan()).catch((err: unknown) => this.log.error({ err }, 'mdns: interface rescan failed'));
  }

  private async rescan(): Promise<void> {
    if (this.closed) return;
    let system: SystemInterface[];
    try {
      system = (this.opts.readInterfaces ?? readSystemInterfaces)();
    } catch (err) {
      this.log.warn({ err }, 'mdns: cannot list network interfaces');
      return;
    }
    const { targets, skipped } = selectInterfaces(system, this.opts.interfaces);
    const skippedText = JSON.stringify(skipped);
    if (skippedText !== this.lastSkipped) {
      this.lastSkipped = skippedText;
      if (skipped.length > 0) this.log.info({ skipped }, 'mdns: interfaces not used');
    }
    const wanted = new Map(targets.map((t) => [keyOf(t), t]));
    for (const [key, s] of this.sockets) {
      if (wanted.has(key)) continue;
      this.sockets.delete(key);
      this.log.info({ ifname: s.target.ifname, family: s.target.family }, 'mdns: interface gone, socket closed');
      await s.close();
    }
    await Promise.all([...wanted].filter(([key]) => !this.sockets.has(key) && !this.opening.has(key)).map(([key, t]) => this.open(key, t)));
    this.changed();
  }

  private async open(key: string, target: QueryTarget): Promise<void> {
    this.opening.add(key);
    try {
      const sock = await openInterfaceSocket(target, {
        onMessage: (msg, rinfo) => this.receive(target, msg, rinfo),
        onError: (err) => {
          this.log.warn({ err, ifname: target.ifname, family: target.family }, 'mdns: socket error, reopening at the next rescan');
          if (this.sockets.get(key) === sock) {
            this.sockets.delete(key);
            void sock.close();
            this.changed();
          }
        },
      });
      if (this.closed) {
        await sock.close();
        return;
      }
      this.sockets.set(key, sock);
      this.log.info({ ifname: target.ifname, family: target.family, address: target.address, port: sock.port }, 'mdns: querying on interface');
    } catch (err) {
      this.log.warn({ err, ifname: target.ifname, family: target.family, address: target.address }, 'mdns: cannot open a socket on interface');
    } finally {
      this.opening.delete(key);
    }
  }

  private receive(target: QueryTarget, msg: Buffer, rinfo: RemoteInfo): void {
    const outcome = this.classify(target, msg, rinfo);
    if (typeof outcome !== 'string') {
      for (const l of this.answerListeners) {
        try {
          l(outcome, target);
        } catch (err) {
          this.log.error({ err }, 'mdns: answer listener threw');
        }
      }
    }
    try {
      this.opts.onPacket?.(typeof outcome === 'string' ? outcome : 'accepted');
    } catch {
      // metrics must not break reception
    }
  }

  private classify(target: QueryTarget, msg: Buffer, rinfo: RemoteInfo): PacketOutcome | readonly MdnsAnswer[] {
    // RFC 6762 §6: responses are sent from port 5353; anything else is not an mDNS response.
    if (rinfo.port !== MDNS_PORT) return 'bad-port';
    if (msg.length > MAX_DATAGRAM) return 'oversize';
    // RFC 6762 §11: only the local link may answer (a unicast reply can come from anywhere).
    if (!isOnLink(rinfo.address, target)) return 'off-link';
    const read = readResponse(msg);
    return read.kind === 'drop' ? read.reason : read.answers;
  }

  private changed(): void {
    let v4 = 0;
    let v6 = 0;
    for (const s of this.sockets.values()) s.target.family === 4 ? v4++ : v6++;
    try {
      this.opts.onSockets?.({ v4, v6 });
    } catch {
      // metrics only
    }
    this.setUp(this.sockets.size > 0);
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    for (const l of this.stateListeners) {
      try {
        l(up);
      } catch (err) {
        this.log.error({ err }, 'mdns: state listener threw');
      }
    }
  }
}

// The prefixes are part of the key: they drive the on-link check, so a new prefix reopens the socket.
const keyOf = (t: QueryTarget): string => `${t.ifname}/${t.family}/${t.address}/${t.cidrs.join(',')}`;
