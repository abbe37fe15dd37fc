/**
 * Avahi's D-Bus vocabulary and the one place where RecordBrowser signal bodies (which arrive from
 * dbus-next as `unknown`) are narrowed. Interfaces: avahi-daemon/org.freedesktop.Avahi.*.xml.
 */

export const AVAHI_BUS_NAME = 'org.freedesktop.Avahi';
export const AVAHI_SERVER_PATH = '/';
export const AVAHI_SERVER_IFACE = 'org.freedesktop.Avahi.Server';
/** Avahi ≥ 0.8: `*Prepare` methods create a browser that only starts on `Start` (race-free). */
export const AVAHI_SERVER2_IFACE = 'org.freedesktop.Avahi.Server2';
export const AVAHI_RECORD_BROWSER_IFACE = 'org.freedesktop.Avahi.RecordBrowser';

export const DBUS_NAME = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';
export const DBUS_IFACE = 'org.freedesktop.DBus';

/** AVAHI_IF_UNSPEC / AVAHI_PROTO_UNSPEC: every interface, IPv4 and IPv6. */
export const AVAHI_IF_UNSPEC = -1;
export const AVAHI_PROTO_UNSPEC = -1;

/**
 * What a RecordBrowser reports (avahi-core/browse.c). `CacheExhausted` only says the cache has been
 * read; `AllForNow` says nothing more is expected soon (cache read and the first query round done).
 */
export type RecordBrowserEvent =
  | {
      readonly kind: 'item-new' | 'item-remove';
      readonly iface: number;
      readonly proto: number;
      readonly name: string;
      readonly clazz: number;
      readonly type: number;
      readonly rdata: Uint8Array;
      readonly flags: number;
    }
  | { readonly kind: 'failure'; readonly error: string }
  | { readonly kind: 'all-for-now' }
  | { readonly kind: 'cache-exhausted' };

/** The fields of a D-Bus signal the router needs; dbus-next's `Message` satisfies it. */
export interface SignalMessage {
  readonly path: unknown;
  readonly interface: unknown;
  readonly member: unknown;
  readonly body: unknown;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Narrow one RecordBrowser signal. Returns undefined for anything that does not have the documented
 * signature (a buggy or hostile peer must not crash the daemon); the caller drops it.
 */
export function narrowRecordBrowserSignal(member: unknown, body: unknown): RecordBrowserEvent | undefined {
  if (!Array.isArray(body)) return undefined;
  switch (member) {
    case 'ItemNew':
    case 'ItemRemove': {
      const [iface, proto, name, clazz, type, rdata, flags] = body as unknown[];
      if (!isInt(iface) || !isInt(proto) || typeof name !== 'string') return undefined;
      if (!isInt(clazz) || !isInt(type) || !isInt(flags)) return undefined;
      // dbus-next hands `ay` over as a Buffer (a view into its receive buffer): copy, so a kept
      // record does not pin a whole message and is a plain Uint8Array for the DNS encoder.
      if (!(rdata instanceof Uint8Array)) return undefined;
      return {
        kind: member === 'ItemNew' ? 'item-new' : 'item-remove',
        iface,
        proto,
        name,
        clazz,
        type,
        rdata: new Uint8Array(rdata),
        flags,
      };
    }
    case 'Failure': {
      const [error] = body as unknown[];
      return { kind: 'failure', error: typeof error === 'string' ? error : 'unknown failure' };
    }
    case 'AllForNow':
      return { kind: 'all-for-now' };
    case 'CacheExhausted':
      return { kind: 'cache-exhausted' };
    default:
      return undefined;
  }
}

/** Why a call or a browse could not be served; `unavailable` means Avahi or the bus is gone. */
export type AvahiCallFailure =
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'dbus-error'; readonly name: string; readonly message: string };

/** Thrown (rejected) by `AvahiSession.call`; carries an `AvahiCallFailure` to branch on. */
export class AvahiCallError extends Error {
  readonly failure: AvahiCallFailure;
  constructor(failure: AvahiCallFailure) {
    super(failure.kind === 'unavailable' ? `avahi: unavailable: ${failure.reason}` : failure.kind === 'timeout' ? 'avahi: D-Bus call timed out' : `avahi: ${failure.name}: ${failure.message}`);
    this.name = 'AvahiCallError';
    this.failure = failure;
  }
}

export interface CallRequest {
  readonly path: string;
  readonly iface: string;
  readonly member: string;
  readonly signature?: string;
  readonly body?: readonly unknown[];
  /** Defaults to the connection's call timeout. */
  readonly timeoutMs?: number;
}

/**
 * One stretch of time during which Avahi is reachable: created when the bus is connected and
 * `org.freedesktop.Avahi` has an owner, aborted the moment either goes away. Everything done through
 * a session (calls, subscriptions) dies with it, so a lookup only has to watch `signal`.
 */
export interface AvahiSession {
  readonly signal: AbortSignal;
  /** Whether this Avahi offers `Server2.RecordBrowserPrepare` (checked once per owner). */
  readonly server2: boolean;
  /** Method call to Avahi; resolves with the reply body, rejects with `AvahiCallError`. */
  call(req: CallRequest): Promise<readonly unknown[]>;
  /** Route RecordBrowser signals for `path` to `handler` (and replay any buffered ones). */
  subscribe(path: string, handler: (event: RecordBrowserEvent) => void): () => void;
}
