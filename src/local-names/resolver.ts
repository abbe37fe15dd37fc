import type { ResourceRecord } from '../lib/dns-wire/types.js';

/**
 * The OS seam of `local-names`: one multicast-DNS source of records (Avahi over D-Bus, or our own
 * one-shot mDNS querier, `native`). The cache, coalescing, queueing and answer policy sit above it and are shared.
 *
 * Contract:
 * - `lookup` never throws and never outlives `timeoutMs` (plus a few ms; `auto` may add up to 300 ms to retry a lookup whose backend went away, see backend-selector.ts); it settles early when
 *   `signal` aborts (result `unavailable`).
 * - `mode: 'first'` (unique records: everything but a shared PTR browse, see lookup-shape.ts)
 *   settles on the first record; `'collect'` (PTR browses) gathers every record until the source
 *   says it has reported everything it knows (Avahi's AllForNow) or `windowMs` passes.
 * - `type: 255` (ANY) is only asked of a backend whose `existenceTypes` names it: it then returns
 *   records of any type owned by the name.
 * - rdata is passed through raw (names uncompressed), so every record type works.
 * - When the source is down (daemon gone, bus gone) `lookup` answers `unavailable` within 100 ms.
 */
export interface LocalResolver {
  readonly kind: 'avahi' | 'native';
  /** True while the source is usable (Avahi's bus name has an owner and we are connected). */
  isUp(): boolean;
  lookup(query: BackendQuery): Promise<BackendResult>;
  /**
   * The types to ask for (in 'first' mode) to learn whether `name` exists at all, when the type
   * asked has no records: NXDOMAIN or NODATA (RFC 2308 §2). Default: by the name's shape
   * (lookup-shape.ts `existenceTypes`); native asks one mDNS query for ANY (RFC 6762 §6.5).
   */
  readonly existenceTypes?: ((name: string) => readonly number[]) | undefined;
  /** Called with the new state whenever `isUp()` changes. Returns an unsubscribe function. */
  onStateChange(listener: (up: boolean) => void): () => void;
  close(): Promise<void>;
}

export interface BackendQuery {
  /** Absolute name, lowercase, trailing dot. */
  readonly name: string;
  readonly type: number;
  readonly mode: 'first' | 'collect';
  readonly timeoutMs: number;
  readonly windowMs: number;
  readonly signal?: AbortSignal;
  /**
   * In 'first' mode only a record this accepts settles the lookup; others are kept and returned at
   * the timeout (the answer policy drops them, e.g. fe80:: AAAA). Default: every record.
   */
  readonly usable?: (type: number, data: Uint8Array) => boolean;
}

export type BackendResult =
  | { readonly kind: 'records'; readonly records: readonly ResourceRecord[] }
  /** The source answered (or the timeout passed) with nothing for this name and type. */
  | {
      readonly kind: 'none';
      /**
       * The source knows the name exists with other types (an mDNS NSEC whose bitmap lacks the
       * type asked, RFC 6762 §6.1): NODATA, not NXDOMAIN.
       */
      readonly nameExists?: boolean;
    }
  | { readonly kind: 'unavailable'; readonly reason: string };
