import { z } from 'zod';

/**
 * The status model behind `GET /api/status`, the page at `/` and `unbound-sidecar status`.
 *
 * The schema is zod so the CLI narrows the daemon's JSON with the very definition the daemon
 * serialises (data from a socket arrives as `unknown`, STYLE.md "Types and errors"). Times are Unix
 * milliseconds; ages are computed by the daemon at `generatedAt`, so the CLI and the page never
 * compare their own clock with the daemon's.
 */

const listOutcome = z.enum(['updated', 'unchanged', 'kept-last-good', 'partial', 'failed']);

export const setStatusSchema = z.object({
  /** "family table name" (plus " (netns NAME)"), as in set-sync's metrics label `set`. */
  set: z.string(),
  elements: z.number().int().nonnegative(),
  lastApplyAt: z.number().optional(),
  lastError: z.string().optional(),
});

export const listStatusSchema = z.object({
  name: z.string(),
  refreshSeconds: z.number().positive(),
  /** Last refresh attempt of any outcome (undefined: none since the daemon started). */
  lastSyncAt: z.number().optional(),
  /** `undefined` until the first refresh since start: the sets hold the restored snapshot. */
  outcome: listOutcome.optional(),
  /** Every source last delivered (new data or 304) at … — what "fresh" means. */
  lastSuccessAt: z.number().optional(),
  /** Seconds since lastSuccessAt, or since the daemon started when the list never succeeded. */
  ageSeconds: z.number().nonnegative(),
  lastError: z.string().optional(),
  sets: z.array(setStatusSchema),
  /** Addresses learned from DNS answers for this list (absent without a learner). */
  learned: z.number().int().nonnegative().optional(),
});

/** The DNS front (src/dns-front): where it listens and whether listed answers reach the sets first. */
export const frontStatusSchema = z.object({
  listen: z.array(z.string()),
  upstream: z.string(),
  allow: z.array(z.string()),
  inflight: z.number().int().nonnegative(),
  tcpConnections: z.number().int().nonnegative(),
  /** Listen addresses no interface has yet: retried until they appear (the others are served). */
  notBound: z.array(z.string()),
  insertion: z.object({
    /** off: no learning list (a pure PROXYv2 relay); unavailable: set missing; failing: nftables refuses. */
    state: z.enum(['ok', 'off', 'unavailable', 'failing']),
    problem: z.string().optional(),
    deadlineMisses: z.number().int().nonnegative(),
    failOpen: z.number().int().nonnegative(),
    failClosed: z.number().int().nonnegative(),
  }),
  udp: z.object({
    /** The smallest receive buffer a front UDP socket got (SO_RCVBUF as the kernel reports it). */
    receiveBufferBytes: z.number().int().nonnegative().optional(),
    /** Less than front.receiveBufferBytes asked: net.core.rmem_max capped it. */
    receiveBufferCapped: z.boolean(),
    /** Datagrams dropped on full receive queues over the sockets' lives: the front's listeners, its socket to Unbound, Unbound's own. */
    kernelDrops: z.object({ listener: z.number().int().nonnegative(), upstream: z.number().int().nonnegative(), unbound: z.number().int().nonnegative() }),
  }),
});

export const recentErrorSchema = z.object({
  at: z.number(),
  level: z.enum(['warn', 'error', 'fatal']),
  source: z.string(),
  message: z.string(),
});

export const statusSnapshotSchema = z.object({
  version: z.string(),
  generatedAt: z.number(),
  startedAt: z.number(),
  health: z.object({
    mdns: z.object({ backend: z.enum(['avahi', 'native']), up: z.boolean() }),
    /** dnstap ingest; absent while dnstap is not configured. */
    dnstap: z.object({ connected: z.boolean(), connections: z.number().int(), frames: z.number() }).optional(),
    /** Whether the learner's files in stateDir could be written; absent without a learner. */
    state: z.object({ dir: z.string(), writable: z.boolean(), failures: z.array(z.object({ file: z.string(), error: z.string(), at: z.number() })) }).optional(),
    /** Absent without a `front` block. */
    front: frontStatusSchema.optional(),
  }),
  lists: z.array(listStatusSchema),
  errors: z.array(recentErrorSchema),
  /** Whether `/api/lookup` has a provider behind it. */
  lookup: z.boolean(),
});

export type SetStatus = z.infer<typeof setStatusSchema>;
export type FrontStatus = z.infer<typeof frontStatusSchema>;
export type ListStatus = z.infer<typeof listStatusSchema>;
export type RecentError = z.infer<typeof recentErrorSchema>;
export type StatusSnapshot = z.infer<typeof statusSnapshotSchema>;
/** Called on every `/api/status` request: keep it cheap (read counters, no I/O). */
export type StatusProvider = () => StatusSnapshot;

/** What the wiring knows about one list; `buildStatusSnapshot` turns it into a ListStatus. */
export interface ListStatusInput {
  name: string;
  refreshMs: number;
  lastSyncAt?: number;
  outcome?: ListStatus['outcome'];
  lastSuccessAt?: number;
  lastError?: string;
  sets: readonly SetStatus[];
  learned?: number;
}

type DeepReadonly<T> = T extends readonly (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export interface StatusInputs {
  version: string;
  startedAt: number;
  mdns: StatusSnapshot['health']['mdns'];
  dnstap?: StatusSnapshot['health']['dnstap'];
  state?: { readonly dir: string; readonly writable: boolean; readonly failures: readonly { readonly file: string; readonly error: string; readonly at: number }[] };
  /** The schema's shape, read-only: the DNS front's status() (DnsFrontStatus) must be assignable to it, which the daemon's wiring type-checks. */
  front?: DeepReadonly<FrontStatus>;
  lists: readonly ListStatusInput[];
  errors: readonly RecentError[];
  lookup?: boolean;
  now?: number;
}

function frontSnapshot(f: NonNullable<StatusInputs['front']>): FrontStatus {
  const { receiveBufferBytes, receiveBufferCapped, kernelDrops } = f.udp;
  return {
    ...f,
    listen: [...f.listen],
    allow: [...f.allow],
    notBound: [...f.notBound],
    insertion: { ...f.insertion },
    udp: { ...(receiveBufferBytes !== undefined ? { receiveBufferBytes } : {}), receiveBufferCapped, kernelDrops: { ...kernelDrops } },
  };
}

/** Plain data in, a snapshot out: the wiring maps its components' status() here (no I/O). */
export function buildStatusSnapshot(i: StatusInputs): StatusSnapshot {
  const now = i.now ?? Date.now();
  return {
    version: i.version,
    generatedAt: now,
    startedAt: i.startedAt,
    health: {
      mdns: { backend: i.mdns.backend, up: i.mdns.up },
      ...(i.dnstap ? { dnstap: i.dnstap } : {}),
      ...(i.state ? { state: { dir: i.state.dir, writable: i.state.writable, failures: i.state.failures.map((f) => ({ ...f })) } } : {}),
      ...(i.front ? { front: frontSnapshot(i.front) } : {}),
    },
    lists: i.lists.map((l) => ({
      name: l.name,
      refreshSeconds: l.refreshMs / 1000,
      ...(l.lastSyncAt !== undefined ? { lastSyncAt: l.lastSyncAt } : {}),
      ...(l.outcome !== undefined ? { outcome: l.outcome } : {}),
      ...(l.lastSuccessAt !== undefined ? { lastSuccessAt: l.lastSuccessAt } : {}),
      ageSeconds: Math.max(0, Math.round((now - (l.lastSuccessAt ?? i.startedAt)) / 1000)),
      ...(l.lastError !== undefined ? { lastError: l.lastError } : {}),
      sets: [...l.sets],
      ...(l.learned !== undefined ? { learned: l.learned } : {}),
    })),
    errors: [...i.errors],
    lookup: i.lookup ?? false,
  };
}

/**
 * A list is stale after 3× its refresh interval without a full success — the same rule as the
 * `UnboundSidecarListStale` alert (config/prometheus/alerts.yml): one missed hourly download is
 * normal (a registry mirror hiccups), three in a row means routing decisions are going old.
 */
export const STALE_FACTOR = 3;

export interface Assessment {
  healthy: boolean;
  problems: string[];
}

/** The one definition of "unhealthy" shared by the page, `status` (exit code) and the tests. */
export function assessStatus(s: StatusSnapshot): Assessment {
  const problems: string[] = [];
  if (!s.health.mdns.up) problems.push(`mdns: ${s.health.mdns.backend} backend is down (.local answers are SERVFAIL)`);
  if (s.health.dnstap && !s.health.dnstap.connected) problems.push('dnstap: Unbound is not connected (nothing is learned)');
  if (s.health.state && !s.health.state.writable) {
    const files = s.health.state.failures.map((f) => `${f.file}: ${f.error}`).join('; ');
    problems.push(`state: ${files || `${s.health.state.dir} is not writable`} (learned addresses and runtime additions are not saved)`);
  }
  const nb = s.health.front?.notBound ?? [];
  if (nb.length > 0) problems.push(`front: not listening on ${nb.join(', ')} yet (no interface has the address; retrying)`);
  const f = s.health.front?.insertion;
  if (f && (f.state === 'unavailable' || f.state === 'failing')) problems.push(`front: listed answers are relayed before their addresses are in the set: ${f.problem ?? f.state}`);
  for (const l of s.lists) {
    if (l.ageSeconds > STALE_FACTOR * l.refreshSeconds) {
      problems.push(`list ${l.name}: stale, last full success ${formatAge(l.ageSeconds)} ago (refresh every ${formatAge(l.refreshSeconds)})`);
    }
    if (l.outcome === 'failed') problems.push(`list ${l.name}: last refresh failed${l.lastError ? `: ${l.lastError}` : ''}`);
    // Some source has never delivered: the sets do not hold the whole list (or nothing of it yet).
    if (l.outcome === 'partial') problems.push(`list ${l.name}: incomplete${l.lastError ? `: ${l.lastError}` : ''}`);
    for (const set of l.sets) if (set.lastError !== undefined) problems.push(`set ${set.set}: ${set.lastError}`);
  }
  return { healthy: problems.length === 0, problems };
}

/** 42s, 5m, 3h 20m, 2d 4h: what an operator reads at a glance. */
export function formatAge(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d${s % 86_400 >= 3600 ? ` ${Math.floor((s % 86_400) / 3600)}h` : ''}`;
}

/** The answer to "is this domain or IP routed through the VPN, and why?". */
export interface LookupMatch {
  list: string;
  /** Human-readable why: "10.0.0.0/8 in source https://…", "learned from an A answer for x.example". */
  reason: string;
  set?: string;
  /** Learned elements expire (Unix ms); list entries do not. */
  expiresAt?: number;
}

export interface LookupResult {
  query: string;
  kind: 'domain' | 'ip' | 'invalid';
  /** Empty: not routed through the VPN. */
  matches: LookupMatch[];
}

/**
 * Implemented by the learner (through src/wiring/status-lookup.ts). Gets the trimmed query (1–253
 * characters) as typed, and answers `kind: 'invalid'` itself for what is neither a name nor an address.
 */
export type LookupProvider = (q: string) => Promise<LookupResult>;
