import { MessageType, sessionBus } from '@particle/dbus-next';
import type { Message, MessageBus } from '@particle/dbus-next';
import type { Logger } from 'pino';
import { setMaxListeners } from 'node:events';
import { ConcurrencyLimiter } from '../concurrency/limiter.js';
import { callOnBus, destroyBus, onStreamClosed, toCallFailure, waitForHello } from './bus-call.js';
import { defaultBusAddress, waitUntilRunning } from './server-state.js';
import { SignalRouter } from './signal-router.js';
import { AVAHI_BUS_NAME, AVAHI_RECORD_BROWSER_IFACE, AVAHI_SERVER2_IFACE, AVAHI_SERVER_PATH, AvahiCallError, DBUS_IFACE, DBUS_NAME, DBUS_PATH } from './types.js';
import type { AvahiSession, CallRequest } from './types.js';

export interface AvahiConnectionOptions {
  /** D-Bus address; default `DBUS_SYSTEM_BUS_ADDRESS`, else the standard system bus socket. */
  readonly busAddress?: string;
  readonly logger: Logger;
  /** Bound on one D-Bus call (connect, introspect, and each call a lookup makes), ms. */
  readonly callTimeoutMs?: number;
  /** Reconnect delay after the bus is lost or unreachable: doubles from minMs to maxMs, jittered. */
  readonly backoff?: { readonly minMs?: number; readonly maxMs?: number };
  /** false forces the pre-0.8 `RecordBrowserNew` path even when Server2 exists (tests). */
  readonly useServer2?: boolean;
}

// One rule for the bus-name watch and one for every RecordBrowser, added once per bus connection.
// Avahi addresses its browser signals to the client (dbus_message_set_destination), so dbus-daemon
// 1.14 delivers them even without a rule; the broad rule keeps us correct on buses that do not.
const OWNER_RULE = `type='signal',sender='${DBUS_NAME}',path='${DBUS_PATH}',interface='${DBUS_IFACE}',member='NameOwnerChanged',arg0='${AVAHI_BUS_NAME}'`;
const NO_OWNER = 'org.freedesktop.DBus.Error.NameHasNoOwner';
const BROWSER_RULE = `type='signal',sender='${AVAHI_BUS_NAME}',interface='${AVAHI_RECORD_BROWSER_IFACE}'`;

/**
 * The system-bus connection to Avahi, kept alive: connects (and reconnects with backoff when the bus
 * dies), follows `org.freedesktop.Avahi`'s owner through NameOwnerChanged, and exposes the current
 * `AvahiSession` (undefined while down). Never throws after construction; state is `isUp()`.
 */
/** Below dbus-daemon's default max_replies_per_connection (128). */
const MAX_PENDING_CALLS = 96;

export class AvahiConnection {
  private readonly log: Logger;
  private readonly address: string;
  private readonly callTimeoutMs: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly useServer2: boolean;
  private readonly router = new SignalRouter();
  /**
   * dbus-daemon refuses more than 128 pending method calls per connection by default
   * (max_replies_per_connection in system.conf); a browse has one call in flight plus its trailing
   * Free. Keep below that with margin, queueing the rest (bounded by the lookup limiter above us).
   */
  private readonly callSlots = new ConcurrencyLimiter(MAX_PENDING_CALLS, Number.MAX_SAFE_INTEGER);
  private readonly listeners = new Set<(up: boolean) => void>();
  private bus: MessageBus | undefined;
  private current: { session: AvahiSession; abort: AbortController; owner: string } | undefined;
  /** Bumped on every owner change and bus loss, so a slow probe cannot resurrect a stale owner. */
  private generation = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private settle: (() => void) | undefined;
  private readonly settled: Promise<void>;

  constructor(opts: AvahiConnectionOptions) {
    this.log = opts.logger;
    this.address = opts.busAddress ?? defaultBusAddress();
    this.callTimeoutMs = opts.callTimeoutMs ?? 2000;
    this.minMs = opts.backoff?.minMs ?? 100;
    this.maxMs = opts.backoff?.maxMs ?? 5000;
    this.useServer2 = opts.useServer2 ?? true;
    this.settled = new Promise((resolve) => (this.settle = resolve));
    void this.connect();
  }

  get session(): AvahiSession | undefined {
    return this.current?.session;
  }

  isUp(): boolean {
    return this.current !== undefined;
  }

  onStateChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the first attempt knows whether Avahi is there (or after `timeoutMs`). */
  async whenSettled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.settled, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Our unique name on the bus while connected (for D-Bus Debug.Stats in tests). */
  get busName(): string | undefined {
    const name: unknown = (this.bus as unknown as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : undefined;
  }

  /** Live subscriptions and buffered signals (leak checks). */
  get routerSize(): { readonly subscribed: number; readonly buffered: number } {
    return this.router.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.endSession('closing');
    const bus = this.bus;
    this.bus = undefined;
    if (bus !== undefined) destroyBus(bus);
    this.listeners.clear();
    this.settle?.();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const gen = ++this.generation;
    let bus: MessageBus;
    try {
      // sessionBus() is dbus-next's "connect to this address" (systemBus() ignores an address).
      bus = sessionBus({ busAddress: this.address, authMethods: ['EXTERNAL'] });
    } catch (err) {
      this.lost(undefined, `bad bus address ${this.address}: ${String(err)}`);
      return;
    }
    this.bus = bus;
    bus.on('error', (err: unknown) => this.lost(bus, `bus error: ${String(err)}`));
    onStreamClosed(bus, () => this.lost(bus, 'bus connection closed'));
    bus.on('message', (msg: Message) => this.onMessage(bus, msg));
    try {
      await waitForHello(bus, this.callTimeoutMs);
      const call = (member: string, signature: string, body: unknown[]): Promise<readonly unknown[]> =>
        callOnBus(bus, { destination: DBUS_NAME, path: DBUS_PATH, iface: DBUS_IFACE, member, signature, body }, this.callTimeoutMs);
      // Watch the owner *before* asking for it, so no change can slip between the two.
      await call('AddMatch', 's', [OWNER_RULE]);
      await call('AddMatch', 's', [BROWSER_RULE]);
      let owner = '';
      try {
        const [o] = await call('GetNameOwner', 's', [AVAHI_BUS_NAME]);
        owner = typeof o === 'string' ? o : '';
      } catch (err) {
        // NameHasNoOwner: the bus is fine, Avahi is not running (yet). Anything else: bus trouble.
        const f = toCallFailure(err);
        if ((f.kind === 'unavailable' ? f.reason : f.kind === 'dbus-error' ? f.name : '') !== NO_OWNER) throw err;
      }
      if (gen !== this.generation || this.bus !== bus) return;
      this.log.info({ address: this.address, avahi: owner !== '' }, 'avahi: connected to D-Bus');
      if (owner === '') {
        this.attempt = 0; // healthy bus, Avahi simply absent: NameOwnerChanged will tell us
        this.settle?.();
      } else await this.activate(bus, owner);
    } catch (err) {
      this.lost(bus, `connecting: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onMessage(bus: MessageBus, msg: Message): void {
    if (bus !== this.bus || msg.type !== MessageType.SIGNAL) return;
    if (msg.interface === DBUS_IFACE && msg.member === 'NameOwnerChanged' && msg.sender === DBUS_NAME) {
      const body: unknown = msg.body;
      if (!Array.isArray(body) || body[0] !== AVAHI_BUS_NAME) return;
      const newOwner: unknown = body[2];
      this.generation++;
      this.endSession('avahi left the bus');
      if (typeof newOwner === 'string' && newOwner !== '') void this.activate(bus, newOwner);
      else this.settle?.();
      return;
    }
    // Only the current Avahi may drive our browsers: any peer can address a signal to us.
    if (this.current !== undefined && msg.sender === this.current.owner) this.router.dispatch(msg);
  }

  /** Avahi `owner` is on the bus: check for Server2 once, then open a session. */
  private async activate(bus: MessageBus, owner: string): Promise<void> {
    const gen = this.generation;
    let server2 = false;
    try {
      if (this.useServer2) {
        const [xml] = await callOnBus(bus, { destination: owner, path: AVAHI_SERVER_PATH, iface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' }, this.callTimeoutMs);
        server2 = typeof xml === 'string' && xml.includes(`"${AVAHI_SERVER2_IFACE}"`);
      }
    } catch (err) {
      const failure = toCallFailure(err);
      // An error *reply* (say a policy that forbids Introspect) still proves Avahi is alive: use
      // the pre-0.8 path. No reply at all (starting, or wedged): retry like a lost bus, with backoff.
      if (failure.kind !== 'dbus-error') {
        if (gen === this.generation && bus === this.bus) this.lost(bus, `avahi not answering: ${String(err)}`);
        return;
      }
    }
    if (gen !== this.generation || bus !== this.bus || this.closed) return;
    await this.untilRunning(bus, owner, gen);
    if (gen !== this.generation || bus !== this.bus || this.closed) return;
    const abort = new AbortController();
    // Every browse and every D-Bus call in flight listens on this signal, to end at once when Avahi
    // goes, and removes its listener when it finishes: with 256 lookups in flight that is hundreds
    // of listeners by design, bounded by the lookup limiter above us. Node's limit of 10 per
    // EventTarget is a heuristic for listeners that are never removed
    // (https://nodejs.org/api/events.html#eventssetmaxlistenersn-eventtargets); here it printed a
    // MaxListenersExceededWarning on stderr at the 11th miss in flight.
    setMaxListeners(0, abort.signal);
    const timeoutMs = this.callTimeoutMs;
    const session: AvahiSession = {
      signal: abort.signal,
      server2,
      call: (req: CallRequest) => {
        if (abort.signal.aborted) return Promise.reject(new AvahiCallError({ kind: 'unavailable', reason: 'avahi is down' }));
        // Address the unique name: a call can never reach a restarted Avahi that does not know our paths.
        return this.withCallSlot(abort.signal, () => callOnBus(bus, { ...req, destination: owner }, req.timeoutMs ?? timeoutMs, abort.signal));
      },
      subscribe: (path, handler) => (abort.signal.aborted ? () => {} : this.router.subscribe(path, handler)),
    };
    this.current = { session, abort, owner };
    this.attempt = 0; // backoff only resets on success, so a wedged Avahi is retried ever more slowly
    this.log.info({ owner, server2 }, 'avahi: up');
    this.emit(true);
    this.settle?.();
  }

  /** See server-state.ts: "up" waits for Avahi to be RUNNING, at most RUNNING_WAIT_MS. */
  private async untilRunning(bus: MessageBus, owner: string, gen: number): Promise<void> {
    const running = await waitUntilRunning(bus, owner, this.callTimeoutMs, () => gen === this.generation && bus === this.bus && !this.closed);
    if (!running && gen === this.generation && !this.closed) this.log.warn({ owner }, 'avahi: not RUNNING after 5 s (host name collision?); using it anyway');
  }

  private async withCallSlot<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    const release = await this.callSlots.acquire(signal);
    if (release === undefined) throw new AvahiCallError({ kind: 'unavailable', reason: 'avahi is down' });
    try {
      return await run();
    } finally {
      release();
    }
  }

  private endSession(reason: string): void {
    const cur = this.current;
    if (cur === undefined) return;
    this.current = undefined;
    this.router.clear();
    cur.abort.abort(new AvahiCallError({ kind: 'unavailable', reason }));
    // Our own close() is routine; anything else is worth a warning.
    if (this.closed) this.log.debug({ reason }, 'avahi: closed');
    else this.log.warn({ reason }, 'avahi: down');
    this.emit(false);
  }

  /** The bus is gone or unusable: drop everything and reconnect after a jittered backoff. */
  private lost(bus: MessageBus | undefined, reason: string): void {
    if (bus !== this.bus || this.closed) return;
    this.bus = undefined;
    this.generation++;
    this.endSession(reason);
    this.settle?.();
    if (bus !== undefined) destroyBus(bus);
    const base = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.log.debug({ reason, delayMs: delay }, 'avahi: reconnecting to D-Bus');
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private emit(up: boolean): void {
    for (const l of this.listeners) {
      try {
        l(up);
      } catch (err) {
        this.log.error({ err }, 'avahi: state listener threw');
      }
    }
  }
}

export { defaultBusAddress, isAvahiPresent } from './server-state.js';
