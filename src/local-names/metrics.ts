import type { Registry } from 'prom-client';
import { capabilityMetrics } from '../lib/metrics/capability-metrics.js';

/** local-names metrics, registered on the injected registry (each test builds a fresh one). */
export function createLocalNamesMetrics(registry: Registry) {
  const m = capabilityMetrics(registry, 'local_names');
  // `unbound_sidecar_avahi_up` predates the capability rule; alerts query it (a lint exception).
  const avahi = capabilityMetrics(registry, 'avahi');
  return {
    cacheHits: m.counter({ name: 'cache_hits_total', help: 'Questions answered from the answer cache.' }),
    cacheMisses: m.counter({ name: 'cache_misses_total', help: 'Questions not in the answer cache.' }),
    cacheEntries: m.gauge({ name: 'cache_entries', help: 'Entries (positive and negative) in the answer cache.' }),
    impossibleNames: m.counter({
      name: 'impossible_names_total',
      help: 'Questions answered NXDOMAIN without a lookup because no mDNS responder can hold the name (NUL byte, invalid UTF-8).',
    }),
    priorityLookups: m.counter({
      name: 'priority_lookups_total',
      help: 'Backend lookups that took the known-name lane (the name had a positive answer within mdns.knownNameSeconds).',
    }),
    existingNameNodata: m.counter({
      name: 'existing_name_nodata_total',
      help: 'Unique-record lookups ended NODATA after mdns.existingNameWaitMs because the name was known to exist with other records (instead of waiting mdns.timeoutMs).',
    }),
    anyQuestions: m.counter({
      name: 'any_questions_total',
      help: 'Questions of type ANY, answered minimally (RFC 8482: one RRset, or a synthesized HINFO).',
    }),
    coalesced: m.counter({ name: 'coalesced_total', help: 'Questions that joined an identical lookup already in flight.' }),
    lookups: m.counter({
      name: 'backend_lookups_total',
      help: 'Backend lookups by backend and outcome: records, none (nothing within the timeout or AllForNow), unavailable, overloaded (queue full).',
      labelNames: ['backend', 'outcome'] as const,
    }),
    timeouts: m.counter({ name: 'backend_timeouts_total', help: 'Backend lookups that ended at the timeout with nothing found.', labelNames: ['backend'] as const }),
    errors: m.counter({ name: 'backend_errors_total', help: 'Backend lookups that failed with an error (D-Bus call failed, browser Failure signal).', labelNames: ['backend'] as const }),
    inFlight: m.gauge({ name: 'backend_lookups_in_flight', help: 'Backend lookups running now.' }),
    queued: m.gauge({ name: 'backend_lookups_queued', help: 'Backend lookups waiting for a free slot.' }),
    avahiUp: avahi.gauge({ name: 'up', help: '1 while Avahi is reachable over D-Bus and in use, else 0.' }),
    backendActive: m.gauge({
      name: 'backend_active',
      help: '1 for the backend new lookups go to (avahi or native), 0 for the other; with backend auto it follows Avahi coming and going.',
      labelNames: ['backend'] as const,
    }),
    backendSwitches: m.counter({
      name: 'backend_switches_total',
      help: 'Live switches of backend auto, by the backend switched to.',
      labelNames: ['to'] as const,
    }),
    mdnsSockets: m.gauge({
      name: 'mdns_sockets',
      help: 'Native backend: open one-shot query sockets, by address family (one per LAN interface and family).',
      labelNames: ['family'] as const,
    }),
    mdnsPackets: m.counter({
      name: 'mdns_packets_total',
      help: 'Native backend: datagrams received on the query sockets, by outcome: accepted, off-link, bad-port, oversize, short, not-response, bad-opcode, bad-rcode, malformed.',
      labelNames: ['outcome'] as const,
    }),
  };
}

export type LocalNamesMetrics = ReturnType<typeof createLocalNamesMetrics>;
