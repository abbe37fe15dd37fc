import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { validatedHostPort } from './lib/net/host-port.js';
import type { Config } from './config/schema.js';
import { createDnsFront, type DnsFront } from './dns-front/index.js';
import { createDnsServer, type DnsServer } from './dns-server/index.js';
import { createHttpServer, type HttpServer, type LookupProvider, type RecentErrors } from './http/index.js';
import { createLocalNames, type LocalNamesService } from './local-names/index.js';
import { errorMessage } from './errors.js';
import { createListPipeline, type ListPipeline } from './wiring/list-pipeline.js';
import { createLearner, type Learner } from './learner/index.js';
import { readinessChecks, startInOrder, statuses, type ComponentSet } from './lib/component/index.js';
import { createSetOwner, type SetOwner } from './set-sync/index.js';
import { frontReadiness, listenerReadiness, listsReadiness, mdnsReadiness, stateReadiness } from './wiring/readiness.js';
import { toPageLookup } from './wiring/status-lookup.js';
import { listsStatus, statusSnapshot } from './wiring/status-snapshot.js';

/** Wiring only: config → components → start/stop. Pipelines meet here and nowhere else. */
export interface Daemon {
  readonly registry: Registry;
  dnsAddresses(): ReturnType<DnsServer['addresses']>;
  httpAddress(): ReturnType<HttpServer['address']>;
  /** The DNS front's bound addresses; undefined without a `front` block. */
  frontAddresses(): ReturnType<DnsFront['addresses']> | undefined;
  /** Download every list now and apply what changed (SIGHUP). No-op without lists. */
  refreshLists(): Promise<void>;
  stop(): Promise<void>;
}

function hostPorts(list: readonly string[]): { host: string; port: number }[] {
  return list.map((s) => validatedHostPort(s));
}

export interface DaemonOptions {
  /** Shown on the status page; main.ts reads it from package.json. */
  version?: string;
  /** The ring the logger's hook fills (run.ts); without it the page shows no errors. */
  recentErrors?: RecentErrors;
}

const EVENT_LOOP_SAMPLE_MS = 100;

export async function startDaemon(config: Config, logger: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const startedAt = Date.now();
  const registry = new Registry();
  // The event-loop lag histogram samples on a timer (perf_hooks.monitorEventLoopDelay): prom-client's
  // default 10 ms woke an idle daemon 100 times a second; every 100 ms still shows any stall.
  collectDefaultMetrics({ register: registry, prefix: 'unbound_sidecar_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for counters
  // (the metric-name lint test fails on them); the same numbers are in the non-`_total` twins.
  for (const name of ['nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total']) {
    registry.removeSingleMetric(`unbound_sidecar_${name}`);
  }

  let listening = false;
  const localNames: LocalNamesService = await createLocalNames({
    config: config.mdns,
    logger: logger.child({ capability: 'local-names' }),
    registry,
  });

  const dns = createDnsServer({
    listen: hostPorts(config.dns.listen),
    zones: config.dns.zones,
    negativeTtl: config.dns.negativeTtl,
    tcpIdleTimeoutMs: config.dns.tcpIdleTimeoutMs,
    tcpMessageTimeoutMs: config.dns.tcpMessageTimeoutMs,
    maxTcpConnections: config.dns.maxTcpConnections,
    udpHandoffMs: config.dns.udpHandoffMs,
    resolve: (question, _zone, signal) => localNames.resolve(question, signal),
    logger: logger.child({ capability: 'dns-server' }),
    registry,
  });

  // Registry lists → nftables sets: only when configured (a router without lists needs no CAP_NET_ADMIN).
  // Learning (dnstap + proactive resolution) only when some list has learned sets (`lists[].learn`).
  // With the front, answers wait for the learned-set write: batch per event-loop turn (batchMs 0)
  // instead of a 2 ms window — measured 0.4–0.5 ms instead of 2.9 ms p50 for a new address; under
  // load batches still grow while a transaction runs.
  // One owner of nftables state: the list sets and the learned sets over one backend (one socket,
  // one request queue and one subscription per namespace).
  const sets: SetOwner | undefined =
    config.lists.length > 0
      ? createSetOwner({
          logger: logger.child({ capability: 'set-sync' }),
          registry,
          maxTransactionPrefixes: config.setSync.maxTransactionPrefixes,
          maxQuietTransactionPrefixes: config.setSync.maxQuietTransactionPrefixes,
          ...(config.lists.some((l) => l.learn) ? { learned: config.front ? { batchMs: 0 } : {} } : {}),
        })
      : undefined;
  const learnedSets = sets?.learned;
  const learner: Learner | undefined = learnedSets ? createLearner({ config, stateDir: config.stateDir, logger, registry, learnedSets }) : undefined;
  // The front asks the learner for every answer; without learning lists it is a pure PROXYv2 relay.
  const front: DnsFront | undefined = config.front ? createDnsFront({ config: config.front, learnAnswer: learner?.learnAnswer, logger, registry }) : undefined;
  const lists: ListPipeline | undefined = sets ? createListPipeline({ config, logger, registry, setSync: sets.lists, onModel: (m) => learner?.setListModel(m) }) : undefined;

  // Without learned sets there is no learner to ask: /api/lookup answers 501 and the page says so.
  const lookup: LookupProvider | undefined = learner ? (q) => Promise.resolve(toPageLookup(q, learner.lookup(q))) : undefined;

  // The start order, declared once; stop is its reverse (also when a start fails): the front
  // stops first, so no answer waits on a learner that is stopping, and the learned sets outlive
  // the learner that writes them. Snapshots go into the sets before the learner restores learned
  // addresses, and both before the front relays its first listed answer. /readyz runs the
  // components' readiness checks in this order; /api/status is made of their statuses.
  const components = {
    'local-names': { start: async () => undefined, stop: () => localNames.close(), status: () => localNames.status(), readiness: mdnsReadiness(localNames) },
    // `http` is created below, from this declaration: its /readyz and /api/status read these components.
    http: { start: () => http.start(), stop: () => http.stop(), status: () => http.address() },
    'dns-server': { start: () => dns.start(), stop: () => dns.stop(), status: () => dns.addresses(), readiness: listenerReadiness('dns', config.dns.listen, () => listening) },
    lists: lists && { start: () => lists.start(), stop: () => lists.stop(), status: () => listsStatus(lists), readiness: listsReadiness(lists, config.lists.length) },
    'learned-sets': learnedSets && { start: async () => undefined, stop: () => learnedSets.stop(), status: () => undefined },
    learner: learner && { start: () => learner.start(), stop: () => learner.stop(), status: () => learner.status(), readiness: stateReadiness(learner) },
    'dns-front': front && { start: () => front.start(), stop: () => front.stop(), status: () => front.status(), readiness: frontReadiness(front, config.front?.listen ?? [], () => listening) },
  } satisfies ComponentSet;

  const [metricsAddr] = hostPorts([config.metrics.listen]);
  const http: HttpServer = createHttpServer({
    host: metricsAddr?.host ?? '127.0.0.1',
    port: metricsAddr?.port ?? 9335,
    maxConnections: config.metrics.maxConnections,
    registry,
    logger: logger.child({ capability: 'http' }),
    readiness: readinessChecks(components),
    status: () =>
      statusSnapshot(statuses(components), {
        version: opts.version ?? 'unknown',
        startedAt,
        lists: config.lists,
        errors: opts.recentErrors?.list() ?? [],
        lookup: lookup !== undefined,
      }),
    ...(lookup ? { lookup } : {}),
  });

  const onStopError = (name: string, err: unknown): void => logger.error({ component: name, err: errorMessage(err) }, `${name}: stop failed`);
  const running = await startInOrder(components, onStopError);
  listening = true;
  logger.info({ dns: dns.addresses(), metrics: http.address(), zones: config.dns.zones, backend: localNames.status() }, 'unbound-sidecar ready');

  return {
    registry,
    dnsAddresses: () => dns.addresses(),
    httpAddress: () => http.address(),
    frontAddresses: () => front?.addresses(),
    async refreshLists() {
      if (!lists) return;
      try {
        const reports = await lists.refresh();
        logger.info({ reports: reports.map((r) => ({ list: r.list, outcome: r.outcome, entries: r.entries })) }, 'lists refreshed');
      } catch (err) {
        logger.error({ err: errorMessage(err) }, 'lists: refresh failed');
      }
    },
    async stop() {
      listening = false;
      await running.stop();
    },
  };
}
