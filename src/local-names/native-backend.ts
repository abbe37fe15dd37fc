import type { Logger } from 'pino';
import type { ResourceRecord } from '../lib/dns-wire/types.js';
import { nameToWireLower } from '../lib/dns-wire/wire-name.js';
import { MdnsQuerier, type PacketOutcome } from '../lib/mdns/querier.js';
import type { MdnsAnswer } from '../lib/mdns/response-reader.js';
import type { BackendQuery, BackendResult, LocalResolver } from './resolver.js';

/** How one lookup ended, for the caller's metrics (mirrors AvahiLookupOutcome; mDNS has no AllForNow, so no `none`). */
export type NativeLookupOutcome = 'records' | 'timeout' | 'unavailable';

/** What the native backend needs from the network (MdnsQuerier; a fake in unit tests). */
export interface MdnsTransport {
  isUp(): boolean;
  onStateChange(listener: (up: boolean) => void): () => void;
  onAnswers(listener: (answers: readonly MdnsAnswer[]) => void): () => void;
  /** Sends the query on every interface; resolves with how many sockets took it. */
  query(name: string, type: number): Promise<number>;
  close(): Promise<void>;
}

export interface NativeBackendOptions {
  readonly logger: Logger;
  /** `mdns.interfaces`; undefined = every LAN-looking interface (see lib/mdns/interfaces.ts). */
  readonly interfaces?: readonly string[];
  /** A collect lookup that has records ends this long after the last query went out, ms. */
  readonly collectQuietMs: number;
  readonly onLookup?: (outcome: NativeLookupOutcome) => void;
  readonly onPacket?: (outcome: PacketOutcome) => void;
  readonly onSockets?: (counts: { readonly v4: number; readonly v6: number }) => void;
  /** Tests inject a transport instead of real sockets. */
  readonly transport?: MdnsTransport;
}

/** A hostile or very busy LAN cannot grow one lookup beyond these (64 KiB: the most a DNS reply can carry). */
const MAX_RECORDS = 256;
const MAX_RDATA_BYTES = 65_535;
/** RFC 6762 §10.2: a cache-flush record replaces same-name/type records received more than 1 s before it. */
const FLUSH_GRACE_MS = 1000;

interface Collected {
  readonly rr: ResourceRecord;
  readonly at: number;
}

interface Pending {
  readonly type: number;
  add(answer: MdnsAnswer, now: number): void;
  /** The owner sent an NSEC (RFC 6762 §6.1): it has no record of the types the bitmap leaves out. */
  nsec(rdata: Uint8Array): void;
}

const ANY = 255;
const NSEC = 47;

/**
 * Does the NSEC rdata's type bitmap (RFC 4034 §4.1.2: window, length, bits) list `type`? The next
 * domain name comes first (uncompressed: the reader expanded it). Undefined when unreadable.
 */
export function nsecHasType(rdata: Uint8Array, type: number): boolean | undefined {
  let off = 0;
  for (let len = rdata[off]; len !== 0; len = rdata[off]) {
    if (len === undefined || len > 63) return undefined;
    off += 1 + len;
  }
  off += 1;
  while (off + 2 <= rdata.length) {
    const window = rdata[off] as number;
    const len = rdata[off + 1] as number;
    if (len < 1 || len > 32 || off + 2 + len > rdata.length) return undefined;
    if (window === type >> 8) {
      const byte = (type & 0xff) >> 3;
      return byte < len && (((rdata[off + 2 + byte] as number) >> (7 - (type & 7))) & 1) === 1;
    }
    off += 2 + len;
  }
  return off === rdata.length ? false : undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * The `LocalResolver` over one-shot multicast DNS (see resolver.ts for the contract): each lookup
 * sends an RFC 6762 §5.1 query on every LAN interface from an ephemeral port and takes the unicast
 * replies (§6.7) whose owner name (case-insensitive) and type match the question.
 *
 * - 'first' (A/AAAA) settles on the first usable record; unusable ones (fe80::) wait for the timeout.
 * - 'collect' gathers until `windowMs`, or — once it has records — until `collectQuietMs` after the
 *   last query sent: responders answer within 120 ms (§6, shared records) and at once for unique
 *   ones, so waiting longer only adds latency. That is our stand-in for Avahi's AllForNow.
 * - One retransmission at a third of the time limit if nothing usable has arrived (§5.1 allows a
 *   one-shot querier to retry; a lost datagram should not become a cached NXDOMAIN).
 * - TTLs are the responders' (legacy unicast caps them at 10 s, §6.7); TTL 0 is a goodbye and
 *   withdraws the record (§10.1); the cache-flush bit is stripped from the class and honoured (§10.2).
 * - No interface usable → `unavailable` at once (SERVFAIL, like Avahi being down).
 */
export async function createNativeBackend(opts: NativeBackendOptions): Promise<LocalResolver & { readonly kind: 'native' }> {
  let transport: MdnsTransport;
  if (opts.transport) transport = opts.transport;
  else {
    const querier = new MdnsQuerier({
      logger: opts.logger,
      ...(opts.interfaces !== undefined ? { interfaces: opts.interfaces } : {}),
      ...(opts.onPacket ? { onPacket: opts.onPacket } : {}),
      ...(opts.onSockets ? { onSockets: opts.onSockets } : {}),
    });
    await querier.start();
    transport = querier;
  }
  const count = (outcome: NativeLookupOutcome): void => {
    try {
      opts.onLookup?.(outcome);
    } catch (err) {
      opts.logger.error({ err }, 'native: onLookup hook threw');
    }
  };

  // Lookups waiting for answers, by owner wire hex (each checks the type). Bounded by the core's limiter.
  const pending = new Map<string, Set<Pending>>();
  const unsubscribe = transport.onAnswers((answers) => {
    const now = performance.now();
    for (const a of answers) {
      if (a.class !== 1) continue; // IN only: the DNS front asks nothing else
      const set = pending.get(hex(a.owner));
      if (!set) continue;
      for (const p of set) {
        if (p.type === a.type || p.type === ANY) p.add(a, now);
        else if (a.type === NSEC && a.ttl > 0) p.nsec(a.rdata);
      }
    }
  });

  function lookup(query: BackendQuery): Promise<BackendResult> {
    if (!transport.isUp()) {
      count('unavailable');
      return Promise.resolve({ kind: 'unavailable', reason: 'native mDNS: no usable network interface' });
    }
    if (query.signal?.aborted) return Promise.resolve({ kind: 'unavailable', reason: 'aborted' });
    let key: string;
    try {
      key = hex(nameToWireLower(query.name));
    } catch {
      count('timeout');
      return Promise.resolve({ kind: 'none' }); // not a name anyone can publish
    }
    return new Promise<BackendResult>((resolve) => {
      const started = performance.now();
      const records = new Map<string, Collected>();
      let bytes = 0;
      let lastSentAt = started;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const limit = query.mode === 'first' ? query.timeoutMs : Math.min(query.windowMs, query.timeoutMs);
      const usable = query.usable ?? (() => true);

      const finish = (result: BackendResult, outcome: NativeLookupOutcome): void => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        query.signal?.removeEventListener('abort', onAbort);
        const set = pending.get(key);
        set?.delete(entry);
        if (set?.size === 0) pending.delete(key);
        count(outcome);
        resolve(result);
      };
      const finishWithWhatWeHave = (): void => {
        if (records.size === 0) finish({ kind: 'none' }, 'timeout');
        else finish({ kind: 'records', records: [...records.values()].map((c) => c.rr) }, 'records');
      };
      const onAbort = (): void => finish({ kind: 'unavailable', reason: 'aborted' }, 'unavailable');
      const send = (): void => {
        lastSentAt = performance.now();
        void transport.query(query.name, query.type).then((n) => {
          // Nobody was asked (every send failed, e.g. the link went down): we know nothing.
          if (n === 0 && records.size === 0) finish({ kind: 'unavailable', reason: 'native mDNS: the query could not be sent' }, 'unavailable');
        });
      };
      let quietTimer: NodeJS.Timeout | undefined;
      const scheduleQuietEnd = (): void => {
        clearTimeout(quietTimer);
        const at = Math.max(0, lastSentAt + opts.collectQuietMs - performance.now());
        if (performance.now() - started + at < limit) {
          quietTimer = setTimeout(finishWithWhatWeHave, at);
          timers.push(quietTimer);
        }
      };

      const entry: Pending = {
        type: query.type,
        add(a, now) {
          if (settled) return;
          const rkey = `${a.type}/${hex(a.rdata)}`;
          if (a.ttl === 0) {
            const gone = records.get(rkey);
            if (gone) bytes -= gone.rr.data.length;
            records.delete(rkey);
            return;
          }
          if (a.cacheFlush) {
            for (const [k, c] of records) {
              if (k !== rkey && c.rr.type === a.type && c.at < now - FLUSH_GRACE_MS) {
                records.delete(k);
                bytes -= c.rr.data.length;
              }
            }
          }
          const known = records.get(rkey);
          if (!known) {
            if (records.size >= MAX_RECORDS || bytes + a.rdata.length > MAX_RDATA_BYTES) return;
            bytes += a.rdata.length;
          }
          // Owner = the name asked, lowercase (the cache keys it so; the front restores the case asked).
          records.set(rkey, { rr: { name: query.name, type: a.type, class: a.class, ttl: a.ttl, data: a.rdata }, at: now });
          if (query.mode === 'first') {
            if (usable(a.type, a.rdata)) finishWithWhatWeHave();
          } else if (!known && records.size === 1) scheduleQuietEnd();
        },
        nsec(rdata) {
          if (settled || records.size > 0) return;
          // The owner lists what it has; the type asked is not among them: NODATA now (RFC 6762 §6.1).
          if (nsecHasType(rdata, query.type) === false) finish({ kind: 'none', nameExists: true }, 'records');
        },
      };

      let set = pending.get(key);
      if (!set) pending.set(key, (set = new Set()));
      set.add(entry);
      query.signal?.addEventListener('abort', onAbort, { once: true });
      timers.push(setTimeout(finishWithWhatWeHave, limit));
      timers.push(
        setTimeout(
          () => {
            // 'first' is still waiting for a usable record; 'collect' has heard nobody yet.
            if (![...records.values()].some((c) => usable(c.rr.type, c.rr.data))) send();
          },
          Math.round(limit / 3),
        ),
      );
      send();
    });
  }

  return {
    kind: 'native',
    // One mDNS question for ANY is answered with every record the owner has (RFC 6762 §6.5).
    existenceTypes: () => [ANY],
    isUp: () => transport.isUp(),
    onStateChange: (listener) => transport.onStateChange(listener),
    lookup,
    async close() {
      unsubscribe();
      await transport.close();
    },
  };
}
