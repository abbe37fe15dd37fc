import { Counter, Gauge, type Registry } from 'prom-client';

/** local-names metrics, registered on the injected registry (each test builds a fresh one). */
export function createLocalNamesMetrics(registry: Registry) {
  const registers = [registry];
  return {
    cacheHits: new Counter({ name: 'unbound_sidecar_local_names_cache_hits_total', help: 'Questions answered from the answer cache.', registers }),
    cacheMisses: new Counter({ name: 'unbound_sidecar_local_names_cache_misses_total', help: 'Questions not in the answer cache.', registers }),
    cacheEntries: new Gauge({ name: 'unbound_sidecar_local_names_cache_entries', help: 'Entries (positive and negative) in the answer cache.', registers }),
    impossibleNames: new Counter({
      name: 'unbound_sidecar_local_names_impossible_names_total',
      help: 'Questions answered NXDOMAIN without a lookup because no mDNS responder can hold the name (NUL byte, invalid UTF-8).',
      registers,
    }),
    priorityLookups: new Counter({
      name: 'unbound_sidecar_local_names_priority_lookups_total',
      help: 'Backend lookups that took the known-name lane (the name had a positive answer within mdns.knownNameSeconds).',
      registers,
    }),
    existingNameNodata: new Counter({
      name: 'unbound_sidecar_local_names_existing_name_nodata_total',
      help: 'Unique-record lookups ended NODATA after mdns.existingNameWaitMs because the name was known to exist with other records (instead of waiting mdns.timeoutMs).',
      registers,
    }),
    anyQuestions: new Counter({
      name: 'unbound_sidecar_local_names_any_questions_total',
      help: 'Questions of type ANY, answered minimally (RFC 8482: one RRset, or a synthesized HINFO).',
      registers,
    }),
    coalesced: new Counter({ name: 'unbound_sidecar_local_names_coalesced_total', help: 'Questions that joined an identical lookup already in flight.', registers }),
    lookups: new Counter({
      name: 'unbound_sidecar_local_names_backend_lookups_total',
      help: 'Backend lookups by backend and outcome: records, none (nothing within the timeout or AllForNow), unavailable, overloaded (queue full).',
      labelNames: ['backend', 'outcome'] as const,
      registers,
    }),
    timeouts: new Counter({ name: 'unbound_sidecar_local_names_backend_timeouts_total', help: 'Backend lookups that ended at the timeout with nothing found.', labelNames: ['backend'] as const, registers }),
    errors: new Counter({ name: 'unbound_sidecar_local_names_backend_errors_total', help: 'Backend lookups that failed with an error (D-Bus call failed, browser Failure signal).', labelNames: ['backend'] as const, registers }),
    inFlight: new Gauge({ name: 'unbound_sidecar_local_names_backend_lookups_in_flight', help: 'Backend lookups running now.', registers }),
    queued: new Gauge({ name: 'unbound_sidecar_local_names_backend_lookups_queued', help: 'Backend lookups waiting for a free slot.', registers }),
    avahiUp: new Gauge({ name: 'unbound_sidecar_avahi_up', help: '1 while Avahi is reachable over D-Bus and in use, else 0.', registers }),
    backendActive: new Gauge({
      name: 'unbound_sidecar_local_names_backend_active',
      help: '1 for the backend new lookups go to (avahi or native), 0 for the other; with backend auto it follows Avahi coming and going.',
      labelNames: ['backend'] as const,
      registers,
    }),
    backendSwitches: new Counter({
      name: 'unbound_sidecar_local_names_backend_switches_total',
      help: 'Live switches of backend auto, by the backend switched to.',
      labelNames: ['to'] as const,
      registers,
    }),
    mdnsSockets: new Gauge({
      name: 'unbound_sidecar_local_names_mdns_sockets',
      help: 'Native backend: open one-shot query sockets, by address family (one per LAN interface and family).',
      labelNames: ['family'] as const,
      registers,
    }),
    mdnsPackets: new Counter({
      name: 'unbound_sidecar_local_names_mdns_packets_total',
      help: 'Native backend: datagrams received on the query sockets, by outcome: accepted, off-link, bad-port, oversize, short, not-response, bad-opcode, bad-rcode, malformed.',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}

export type LocalNamesMetrics = ReturnType<typeof createLocalNamesMetrics>;
