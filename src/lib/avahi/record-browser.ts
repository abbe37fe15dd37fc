import { toCallFailure } from './bus-call.js';
import { AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, AVAHI_RECORD_BROWSER_IFACE, AVAHI_SERVER2_IFACE, AVAHI_SERVER_IFACE, AVAHI_SERVER_PATH, AvahiCallError } from './types.js';
import type { AvahiSession, RecordBrowserEvent } from './types.js';

export interface BrowseRequest {
  /** Presentation form; a trailing dot is fine. */
  readonly name: string;
  readonly type: number;
  /** Default 1 (IN). */
  readonly clazz?: number;
  /** 'first': settle on the first record; 'collect': until AllForNow or `windowMs`. */
  readonly mode: 'first' | 'collect';
  /** Hard bound on the whole browse, including the D-Bus calls. */
  readonly timeoutMs: number;
  readonly windowMs: number;
  readonly signal?: AbortSignal;
  /**
   * 'first' settles only on a record this accepts (default: any). The others are still returned if
   * the deadline comes first: a host whose only AAAA so far is fe80:: must not end the lookup while
   * its global address is a few ms behind (Avahi reports them in separate signals when cold).
   */
  readonly settles?: (type: number, rdata: Uint8Array) => boolean;
}

export interface BrowsedRecord {
  /** As Avahi reports it (its case, no trailing dot). */
  readonly name: string;
  readonly clazz: number;
  readonly type: number;
  /** Raw rdata exactly as Avahi serialized it (uncompressed names). */
  readonly rdata: Uint8Array;
}

export type BrowseOutcome =
  | { readonly kind: 'records'; readonly records: readonly BrowsedRecord[] }
  /** Avahi said AllForNow without a record. */
  | { readonly kind: 'none' }
  /** The deadline (or the collect window) passed without a record. */
  | { readonly kind: 'timeout' }
  /** Avahi refused or failed the browse (Failure signal, or a D-Bus error such as a bad name). */
  | { readonly kind: 'failure'; readonly error: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

const recordKey = (r: { clazz: number; type: number; rdata: Uint8Array }): string =>
  `${r.clazz & 0x7fff}/${r.type}/${Buffer.from(r.rdata.buffer, r.rdata.byteOffset, r.rdata.byteLength).toString('hex')}`;

/**
 * One Avahi record browse, race-free and always cleaned up.
 *
 * Server2 (Avahi ≥ 0.8): `RecordBrowserPrepare` → subscribe the path → `Start`, so no signal can
 * precede the subscription. Older Avahi: `RecordBrowserNew` starts at once and may answer from its
 * cache before the reply carrying the path; the session's router buffers those and replays them on
 * `subscribe` (it relies on the broad match rule the connection added before any browser existed).
 * Avahi 0.8 itself delays a `*New` browser's start by ~10 ms to paper over that race (measured in
 * the lab: reply at 0.5 ms, first ItemNew at 11 ms), so the old path is correct but 10 ms slower.
 *
 * Whatever ends the browse (records, AllForNow, deadline, abort), the browser is `Free`d — also when
 * the path only arrives after the browse already ended — unless Avahi itself is gone (its objects
 * went with it). Avahi reports every record once per interface and protocol: identical rdata is
 * kept once. 'first' settles at the end of the I/O turn that brought the first record, so a burst
 * of cached answers (say an fe80:: and a global AAAA) is returned together.
 */
export function browseRecords(session: AvahiSession | undefined, req: BrowseRequest): Promise<BrowseOutcome> {
  if (session === undefined || session.signal.aborted) {
    return Promise.resolve({ kind: 'unavailable', reason: 'avahi is down' });
  }
  if (req.signal?.aborted === true) return Promise.resolve({ kind: 'unavailable', reason: 'aborted' });
  const s = session;
  return new Promise((resolve) => {
    const records = new Map<string, BrowsedRecord>();
    let path: string | undefined;
    let finished = false;
    let unsubscribe = (): void => {};
    let firstTurn: NodeJS.Immediate | undefined;

    const free = (p: string): void => {
      if (s.signal.aborted) return;
      s.call({ path: p, iface: AVAHI_RECORD_BROWSER_IFACE, member: 'Free' }).catch(() => {
        // Best effort: Avahi also frees a client's browsers when the client disconnects.
      });
    };
    const collected = (): BrowseOutcome | undefined => (records.size > 0 ? { kind: 'records', records: [...records.values()] } : undefined);
    const finish = (outcome: BrowseOutcome): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (firstTurn !== undefined) clearImmediate(firstTurn);
      s.signal.removeEventListener('abort', onDown);
      req.signal?.removeEventListener('abort', onAbort);
      unsubscribe();
      if (path !== undefined) free(path);
      resolve(outcome);
    };
    const onDown = (): void => {
      const reason: unknown = s.signal.reason;
      finish({ kind: 'unavailable', reason: reason instanceof AvahiCallError ? reason.message : 'avahi is down' });
    };
    const onAbort = (): void => finish({ kind: 'unavailable', reason: 'aborted' });
    const onEvent = (ev: RecordBrowserEvent): void => {
      switch (ev.kind) {
        case 'item-new':
          records.set(recordKey(ev), { name: ev.name, clazz: ev.clazz, type: ev.type, rdata: ev.rdata });
          if (req.mode === 'first' && firstTurn === undefined && (req.settles?.(ev.type, ev.rdata) ?? true)) {
            firstTurn = setImmediate(() => {
              firstTurn = undefined;
              const got = collected();
              if (got !== undefined) finish(got); // else removed again in the same turn: keep waiting
            });
          }
          break;
        case 'item-remove':
          records.delete(recordKey(ev));
          break;
        case 'all-for-now':
          finish(collected() ?? { kind: 'none' });
          break;
        case 'failure':
          finish(collected() ?? { kind: 'failure', error: ev.error });
          break;
        case 'cache-exhausted':
          // Cache read, network answers may still come: AllForNow is the signal to stop.
          break;
        default: {
          const never: never = ev;
          return never;
        }
      }
    };

    const bound = req.mode === 'collect' ? Math.min(req.windowMs, req.timeoutMs) : req.timeoutMs;
    const deadline = setTimeout(() => finish(collected() ?? { kind: 'timeout' }), bound);
    s.signal.addEventListener('abort', onDown, { once: true });
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const open = async (): Promise<void> => {
      const name = req.name.endsWith('.') && req.name.length > 1 ? req.name.slice(0, -1) : req.name;
      const args = [AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, name, req.clazz ?? 1, req.type, 0];
      const [p] = await s.call({
        path: AVAHI_SERVER_PATH,
        iface: s.server2 ? AVAHI_SERVER2_IFACE : AVAHI_SERVER_IFACE,
        member: s.server2 ? 'RecordBrowserPrepare' : 'RecordBrowserNew',
        signature: 'iisqqu',
        body: args,
        timeoutMs: req.timeoutMs,
      });
      if (typeof p !== 'string') throw new AvahiCallError({ kind: 'dbus-error', name: 'bad-reply', message: 'no object path' });
      path = p;
      if (finished) {
        free(p); // the browse ended while the path was on its way
        return;
      }
      unsubscribe = s.subscribe(p, onEvent);
      // Replayed signals (old Avahi) may have finished the browse inside subscribe().
      if (finished) unsubscribe();
      else if (s.server2) {
        await s.call({ path: p, iface: AVAHI_RECORD_BROWSER_IFACE, member: 'Start', timeoutMs: req.timeoutMs });
      }
    };
    open().catch((err: unknown) => {
      const f = toCallFailure(err);
      if (f.kind === 'unavailable') finish({ kind: 'unavailable', reason: f.reason });
      else if (f.kind === 'timeout') finish(collected() ?? { kind: 'timeout' });
      else finish(collected() ?? { kind: 'failure', error: `${f.name}: ${f.message}` });
    });
  });
}
