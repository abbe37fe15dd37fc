/**
 * dns-front: the LAN's resolver address in front of Unbound. Forwards every query (with a PROXYv2
 * header, so Unbound still sees the client) and, for answers under a learning list, puts their
 * addresses in the learned sets before relaying the answer. This file is the whole public
 * surface; see README.md for behaviour, config and metrics.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { validatedHostPort } from '../lib/net/host-port.js';
import { errorMessage, SidecarError } from '../errors.js';
import { mmsgUnavailable } from '../lib/net/mmsg-vector.js';
import type { LearnAnswer } from '../learner/index.js';
import { buildClientAcl, type ClientAcl } from './client-acl.js';
import type { DnsFrontConfig } from './config.js';
import { createInsertGate, type InsertionStatus } from './insert-gate.js';
import { createListenRetry, type ListenAddress } from './listen-retry.js';
import { createFrontMetrics, type SocketDrops } from './metrics.js';
import { TcpFront } from './tcp-front.js';
import { UdpFront } from './udp-front.js';

export { dnsFrontConfigSchema, type DnsFrontConfig } from './config.js';
export type { InsertionStatus } from './insert-gate.js';

export interface DnsFrontStatus {
  readonly listen: readonly string[];
  /** Listen addresses not bound yet (no interface has them: retried, see listen-retry.ts). */
  readonly notBound: readonly string[];
  readonly upstream: string;
  readonly allow: readonly string[];
  readonly inflight: number;
  readonly tcpConnections: number;
  readonly insertion: InsertionStatus;
  readonly udp: {
    /** The smallest receive buffer the kernel granted a front socket (as SO_RCVBUF reports it: twice what was asked). */
    readonly receiveBufferBytes?: number;
    /** A socket got less than receiveBufferBytes asked (net.core.rmem_max, no CAP_NET_ADMIN). */
    readonly receiveBufferCapped: boolean;
    /** Datagrams the kernel dropped on full receive queues, per socket role, over the sockets' lives. */
    readonly kernelDrops: Readonly<Record<SocketDrops['role'], number>>;
  };
}

export interface DnsFront {
  /**
   * Binds every listen address (UDP and TCP); rejects with SidecarError('LISTEN_FAILED'). An address
   * no interface has yet does not fail the start: it is retried until it appears (`status().notBound`).
   */
  start(): Promise<void>;
  /** Closes the listeners and upstream sockets; queries in flight get no answer. Idempotent. */
  stop(): Promise<void>;
  addresses(): { udp: { host: string; port: number }[]; tcp: { host: string; port: number }[] };
  status(): DnsFrontStatus;
}

export interface DnsFrontOptions {
  readonly config: DnsFrontConfig;
  /**
   * The learner's `learnAnswer`. Undefined (no learning list): the front is a pure PROXYv2 relay
   * — still useful to put Unbound on loopback and keep its per-client ACLs and logs.
   */
  readonly learnAnswer: LearnAnswer | undefined;
  readonly logger: Logger;
  readonly registry: Registry;
}

export function createDnsFront(opts: DnsFrontOptions): DnsFront {
  const { config } = opts;
  const logger = opts.logger.child({ capability: 'dns-front' });
  // udp and tcp are created below; the gauges read them only at scrape time.
  const metrics = createFrontMetrics(opts.registry, {
    inflight: () => udp.inflight(),
    tcpUnsentBytes: () => tcp.unsentBytes(),
    kernelDrops: () => udp.kernelDrops(),
    upstreamSends: () => udp.upstreamSends(),
  });
  const listen: ListenAddress[] = config.listen.map((spec) => ({ spec, ...validatedHostPort(spec) }));
  const upstream = validatedHostPort(config.upstream);
  const buildAcl = (): ClientAcl =>
    buildClientAcl(
      listen.map((l) => l.host),
      config.allow,
    );
  let current = buildAcl();
  // The default allow comes from the interfaces holding the listen addresses: rebuilt when one that
  // was missing is bound, so its network is answered (not REFUSED) from then on.
  const acl: ClientAcl = {
    allows: (address) => current.allows(address),
    get prefixes() {
      return current.prefixes;
    },
    get unmatched() {
      return current.unmatched;
    },
  };
  const gate = createInsertGate({ learnAnswer: opts.learnAnswer, deadlineMs: config.insertDeadlineMs, failClosed: config.failClosed, metrics, logger });
  const common = { upstream, proxyProtocol: config.proxyProtocol, acl, gate, upstreamTimeoutMs: config.upstreamTimeoutMs, metrics, logger };
  const udp = new UdpFront({
    ...common,
    maxInflight: config.maxInflight,
    maxInflightPerClient: config.maxInflightPerClient,
    batching: config.udpBatching,
    segmentation: config.udpSegmentation,
    receiveBufferBytes: config.receiveBufferBytes,
    busyPollMicros: config.busyPollMicros,
  });
  const tcp = new TcpFront({ ...common, maxConnections: config.maxTcpConnections, idleTimeoutMs: config.tcpIdleTimeoutMs, maxBufferedBytes: config.tcpMaxBufferedBytes });
  const retry = createListenRetry({
    addresses: listen,
    logger,
    // One port for UDP and TCP on each address: port 0 resolves from the UDP bind.
    async bind(a) {
      const u = await udp.listen(a.host, a.port);
      try {
        await tcp.listen(a.host, u.port);
      } catch (err) {
        await udp.unlisten(u.host, u.port);
        throw err;
      }
    },
    onLateBind(a, tries) {
      if (config.allow === undefined) current = buildAcl();
      logger.info({ listen: a.spec, tries, allow: acl.prefixes }, `dns-front: listening on ${a.spec} (the address appeared)`);
    },
  });
  let started = false;
  const udpStatus = (): DnsFrontStatus['udp'] => {
    const kernelDrops = { listener: 0, upstream: 0, unbound: 0 };
    for (const s of udp.kernelDrops()) kernelDrops[s.role] += s.drops;
    const buffer = udp.receiveBuffer();
    return { ...(buffer.bytes !== undefined ? { receiveBufferBytes: buffer.bytes } : {}), receiveBufferCapped: buffer.capped, kernelDrops };
  };

  return {
    async start() {
      if (acl.unmatched.length > 0) {
        logger.warn(
          { listen: acl.unmatched, allow: acl.prefixes },
          'dns-front: no interface network found for these listen addresses (wildcard, or not configured yet): only the prefixes shown may ask; set front.allow to the LAN prefixes',
        );
      }
      try {
        await udp.start();
        tcp.start();
        await retry.start();
      } catch (err) {
        await retry.stop();
        await Promise.allSettled([udp.stop(), tcp.stop()]);
        const code = (err as NodeJS.ErrnoException).code;
        const hint = code === 'EACCES' ? ' (port < 1024 needs CAP_NET_BIND_SERVICE)' : code === 'EADDRINUSE' ? ' (something else listens there: Unbound still on the LAN address?)' : '';
        throw new SidecarError('LISTEN_FAILED', 'dns-front', `cannot listen on ${config.listen.join(', ')}: ${errorMessage(err)}${hint}`, { cause: err });
      }
      started = true;
      const noBatching = config.udpBatching ? mmsgUnavailable() : 'front.udpBatching is false';
      logger.info(
        {
          listen: config.listen,
          ...(retry.pending().length > 0 ? { notBound: retry.pending() } : {}),
          upstream: config.upstream,
          proxyProtocol: config.proxyProtocol,
          allow: acl.prefixes,
          learning: opts.learnAnswer !== undefined,
          udpBatching: noBatching === undefined ? 'sendmmsg/recvmmsg' : `off: ${noBatching}`,
        },
        'dns-front: listening',
      );
    },
    async stop() {
      if (!started) return;
      started = false;
      await retry.stop();
      await Promise.allSettled([udp.stop(), tcp.stop()]);
    },
    addresses: () => ({ udp: udp.addresses(), tcp: tcp.addresses() }),
    status: () => ({
      listen: config.listen,
      notBound: retry.pending(),
      upstream: config.upstream,
      allow: acl.prefixes,
      inflight: udp.inflight(),
      tcpConnections: tcp.connections(),
      insertion: gate.status(),
      udp: udpStatus(),
    }),
  };
}
