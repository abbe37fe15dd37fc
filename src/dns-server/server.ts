import { setMaxListeners } from 'node:events';
import { SidecarError } from '../errors.js';
import { formatHostPort } from '../lib/net/host-port.js';
import { listenErrorCode, listenHint } from '../lib/net/listen-hint.js';
import { TCP_MESSAGE_TIMEOUT_MS } from './config.js';
import type { DnsServer, DnsServerOptions } from './index.js';
import { createDnsMetrics } from './metrics.js';
import { createQueryHandler } from './query-handler.js';
import { TcpListener } from './tcp-listener.js';
import { UdpListener } from './udp-listener.js';
import { createZoneTable } from './zone-policy.js';

/** Unsettled `resolve` calls across all clients before in-zone queries get SERVFAIL (bounded memory). */
const MAX_IN_FLIGHT = 10_000;
/**
 * RFC 7766 §6.2.1.2 lets servers bound pipelining. Unbound reuses an upstream TCP stream for up to
 * `max-reuse-tcp-queries` (200) queries and, with the UDP hand-off, sends every slow question over
 * TCP: a low cap would make a quick answer wait behind 1 s misses pipelined before it.
 */
const MAX_IN_FLIGHT_PER_TCP_CONNECTION = 128;
/** With port 0, tries at finding one ephemeral port free for both UDP and TCP. */
const PORT_PAIR_ATTEMPTS = 8;

interface Bound {
  readonly host: string;
  readonly port: number;
  readonly udp: UdpListener;
  readonly tcp: TcpListener;
}

export function createDnsServer(opts: DnsServerOptions): DnsServer {
  if (opts.listen.length === 0) throw new TypeError('dns-server: listen must name at least one address');
  const controller = new AbortController();
  // Every lookup in flight listens on this server-lifetime signal once and removes its listener
  // when it settles (the lookup caps bound how many), so Node's leak heuristic of 10 listeners
  // per EventTarget would only print a MaxListenersExceededWarning under load
  // (https://nodejs.org/api/events.html#eventssetmaxlistenersn-eventtargets).
  setMaxListeners(0, controller.signal);
  const logger = opts.logger;
  // Serial: seconds at start. Nothing transfers these zones; it only has to be a plausible uint32.
  const zones = createZoneTable(opts.zones, opts.negativeTtl, Math.floor(Date.now() / 1000));
  const metrics = createDnsMetrics(opts.registry, opts.zones);
  const handler = createQueryHandler({
    zones,
    resolve: opts.resolve,
    metrics,
    logger,
    signal: controller.signal,
    maxInFlight: MAX_IN_FLIGHT,
    udpHandoffMs: opts.udpHandoffMs,
  });
  const limits = {
    maxConnections: opts.maxTcpConnections,
    idleTimeoutMs: opts.tcpIdleTimeoutMs,
    messageTimeoutMs: opts.tcpMessageTimeoutMs ?? TCP_MESSAGE_TIMEOUT_MS,
    maxInFlightPerConnection: MAX_IN_FLIGHT_PER_TCP_CONNECTION,
  };
  const bound: Bound[] = [];
  let state: 'new' | 'started' | 'stopped' = 'new';

  /** UDP and TCP on the same port; for port 0, the port UDP got (retrying if TCP has it taken). */
  async function bindPair(host: string, port: number): Promise<Bound> {
    for (let attempt = 1; ; attempt++) {
      const udp = new UdpListener(host, handler, logger);
      let udpPort: number;
      try {
        udpPort = await udp.bindTo(host, port);
      } catch (err) {
        throw listenFailed('udp', host, port, err);
      }
      const tcp = new TcpListener(handler, limits, metrics, logger);
      try {
        await tcp.listenOn(host, udpPort);
        return { host, port: udpPort, udp, tcp };
      } catch (err) {
        await udp.shutdown();
        if (port === 0 && listenErrorCode(err) === 'EADDRINUSE' && attempt < PORT_PAIR_ATTEMPTS) continue;
        throw listenFailed('tcp', host, udpPort, err);
      }
    }
  }

  async function closeAll(): Promise<void> {
    const all = bound.splice(0);
    await Promise.all(all.flatMap((b) => [b.udp.shutdown(), b.tcp.shutdown()]));
  }

  return {
    async start() {
      if (state !== 'new') throw new Error(`dns-server: start() called when ${state}`);
      state = 'started';
      try {
        for (const { host, port } of opts.listen) bound.push(await bindPair(host, port));
      } catch (err) {
        await closeAll();
        state = 'stopped';
        throw err;
      }
      logger.info({ listen: bound.map((b) => formatHostPort(b.host, b.port)), zones: opts.zones }, 'dns-server: listening (udp+tcp)');
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      // Abort first: resolvers stop work, late answers find `signal.aborted` and send nothing.
      controller.abort();
      handler.stop();
      await closeAll();
    },
    addresses() {
      const list = bound.map((b) => ({ host: b.host, port: b.port }));
      return { udp: list, tcp: list.map((a) => ({ ...a })) };
    },
  };
}

function listenFailed(proto: 'udp' | 'tcp', host: string, port: number, err: unknown): SidecarError {
  const hint = listenHint(err, { port, setting: 'dns.listen / --listen', unprivilegedPort: 5335 });
  const why = err instanceof Error ? err.message : String(err);
  return new SidecarError('LISTEN_FAILED', 'dns', `cannot listen on ${proto} ${formatHostPort(host, port)}: ${why}; ${hint}`, { cause: err });
}
