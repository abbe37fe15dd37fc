import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { proxyV2Header } from '../lib/net/proxy-v2.js';
import type { ClientAcl } from './client-acl.js';
import type { InsertGate } from './insert-gate.js';
import { classify, localReply, REFUSED, SERVFAIL } from './local-reply.js';
import type { FrontMetrics } from './metrics.js';

/**
 * DNS over UDP: client datagrams in on the listen sockets, out to Unbound on ONE connected upstream
 * socket (so the kernel only delivers Unbound's datagrams to it). Many clients share that socket,
 * so each query gets an upstream ID free among those in flight and the client's own ID is written
 * back into the answer — the only bytes of Unbound's answer we change (flags, EDNS, TC, DNSSEC
 * records pass untouched; an answer Unbound truncated for the client's buffer stays TC=1).
 *
 * With `proxyProtocol`, each datagram carries a PROXYv2 header (UDP: one per datagram, spec §2.2)
 * naming the client and the address it asked, so Unbound's access-control, logs and dnstap see
 * the client, not the front.
 */

export interface UdpFrontOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly proxyProtocol: boolean;
  readonly acl: ClientAcl;
  readonly gate: InsertGate;
  /** Queries waiting for Unbound at once, at most (beyond: dropped). Capped below the 16-bit ID space. */
  readonly maxInflight: number;
  readonly upstreamTimeoutMs: number;
  readonly metrics: FrontMetrics;
  readonly logger: Logger;
}

interface Pending {
  readonly clientId: number;
  readonly listener: Socket;
  readonly client: RemoteInfo;
  readonly query: Buffer;
  /** End of the query's question section (undefined for opcodes other than QUERY). */
  readonly questionEnd: number | undefined;
  readonly sentAt: number;
  readonly timer: NodeJS.Timeout;
}

/** Leave room in the 16-bit ID space so a free ID is found in a few random draws. */
const MAX_IDS = 60_000;

export class UdpFront {
  private readonly listeners: { socket: Socket; host: string; port: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private upstream: Socket | undefined;
  private readonly cap: number;

  constructor(private readonly o: UdpFrontOptions) {
    this.cap = Math.min(o.maxInflight, MAX_IDS);
  }

  async start(listen: readonly { host: string; port: number }[]): Promise<void> {
    const up = createSocket({ type: isIPv6(this.o.upstream.host) ? 'udp6' : 'udp4' });
    this.upstream = up;
    // A connected socket: ICMP port-unreachable from a stopped Unbound comes back as ECONNREFUSED.
    up.on('error', (err: NodeJS.ErrnoException) => this.upstreamError(err));
    up.on('message', (msg) => this.fromUpstream(msg));
    await new Promise<void>((resolve, reject) => {
      up.once('error', reject);
      up.connect(this.o.upstream.port, this.o.upstream.host, () => {
        up.off('error', reject);
        resolve();
      });
    });
    for (const { host, port } of listen) {
      const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: host, port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('error', (err) => this.o.logger.warn({ err }, 'dns-front: udp socket error'));
      const bound = { socket, host, port: socket.address().port };
      socket.on('message', (msg, rinfo) => this.fromClient(bound, msg, rinfo));
      this.listeners.push(bound);
    }
  }

  addresses(): { host: string; port: number }[] {
    return this.listeners.map(({ host, port }) => ({ host, port }));
  }

  inflight(): number {
    return this.pending.size;
  }

  private fromClient(l: { socket: Socket; host: string; port: number }, msg: Buffer, rinfo: RemoteInfo): void {
    const { metrics } = this.o;
    const v = classify(msg);
    if (v.kind === 'drop') return metrics.dropped.inc({ reason: v.reason });
    if (!this.o.acl.allows(rinfo.address)) {
      metrics.refused.inc({ transport: 'udp' });
      return this.send(l.socket, rinfo, localReply(msg, REFUSED));
    }
    if (v.kind === 'reply') return this.send(l.socket, rinfo, v.msg);
    if (this.pending.size >= this.cap) return metrics.dropped.inc({ reason: 'over-inflight' });
    const up = this.upstream;
    if (up === undefined) return;
    let id = (Math.random() * 0x10000) | 0;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const header = this.o.proxyProtocol ? proxyV2Header('udp', rinfo, { address: l.host, port: l.port }) : undefined;
    const out = header ? Buffer.concat([header, msg]) : Buffer.from(msg);
    out.writeUInt16BE(id, header?.length ?? 0);
    const timer = setTimeout(() => this.timeout(id), this.o.upstreamTimeoutMs);
    const questionEnd = v.kind === 'forward' ? v.questionEnd : undefined;
    this.pending.set(id, { clientId: msg.readUInt16BE(0), listener: l.socket, client: rinfo, query: msg, questionEnd, sentAt: performance.now(), timer });
    metrics.inflight.set(this.pending.size);
    up.send(out, (err) => {
      if (err) this.fail(id);
    });
  }

  private fromUpstream(msg: Buffer): void {
    if (msg.length < 12 || ((msg[2] as number) & 0x80) === 0) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (p === undefined) return this.o.metrics.dropped.inc({ reason: 'late-answer' });
    // An ID is free again once its query timed out: a late answer to that query must not reach the
    // client whose query drew the same ID since. Unbound echoes the question as asked (RFC 1035
    // §4.1.1), so it must match byte for byte — when there is one: some errors carry none (the
    // REFUSED of access-control, Unbound's worker.c deny_refuse, has QDCOUNT 0).
    if (p.questionEnd !== undefined && !sameQuestion(msg, p.query, p.questionEnd)) return this.o.metrics.dropped.inc({ reason: 'late-answer' });
    this.pending.delete(id);
    this.o.metrics.inflight.set(this.pending.size);
    clearTimeout(p.timer);
    const now = performance.now();
    this.o.metrics.upstreamDuration.observe({ transport: 'udp' }, (now - p.sentAt) / 1000);
    msg.writeUInt16BE(p.clientId, 0);
    const wait = this.o.gate.check(msg, now);
    if (wait === undefined) return this.send(p.listener, p.client, msg);
    void wait.then((v) => this.send(p.listener, p.client, v === 'relay' ? msg : localReply(p.query, SERVFAIL)));
  }

  private timeout(id: number): void {
    this.fail(id);
  }

  /** Unbound did not (or could not) answer: SERVFAIL now, never a hang. */
  private fail(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    this.o.metrics.inflight.set(this.pending.size);
    clearTimeout(p.timer);
    this.o.metrics.upstreamTimeouts.inc({ transport: 'udp' });
    this.send(p.listener, p.client, localReply(p.query, SERVFAIL));
  }

  private upstreamError(err: NodeJS.ErrnoException): void {
    // ECONNREFUSED: nobody listens on the upstream port (Unbound stopped or restarting). Every
    // query in flight went to the void; answer them now rather than at the timeout.
    if (err.code === 'ECONNREFUSED') {
      for (const id of [...this.pending.keys()]) this.fail(id);
      return;
    }
    this.o.logger.warn({ err }, 'dns-front: upstream udp socket error');
  }

  private send(socket: Socket, to: RemoteInfo, msg: Buffer | undefined): void {
    if (msg === undefined) return;
    try {
      socket.send(msg, to.port, to.address, (err) => {
        if (err) this.o.logger.debug({ err }, 'dns-front: udp send failed');
      });
      this.o.metrics.answered('udp', msg);
    } catch (err) {
      this.o.logger.debug({ err }, 'dns-front: udp send failed');
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await Promise.all(this.listeners.splice(0).map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
    const up = this.upstream;
    this.upstream = undefined;
    if (up) await new Promise<void>((r) => up.close(() => r()));
  }
}

function sameQuestion(answer: Buffer, query: Buffer, end: number): boolean {
  if (answer.readUInt16BE(4) === 0) return true;
  return answer.length >= end && answer.readUInt16BE(4) === query.readUInt16BE(4) && answer.subarray(12, end).equals(query.subarray(12, end));
}
