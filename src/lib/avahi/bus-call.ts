import { DBusError, Message, MessageFlag } from '@particle/dbus-next';
import type { MessageBus } from '@particle/dbus-next';
import { AvahiCallError } from './types.js';
import type { AvahiCallFailure } from './types.js';

/**
 * Thin, bounded wrappers over dbus-next's low-level API. dbus-next never settles a pending call when
 * the socket closes (its reply handlers just stay in a map), so every call here is raced against a
 * timer and an AbortSignal; that is what turns "Avahi/bus gone" into an answer within milliseconds.
 */

export interface BusCall {
  readonly destination: string;
  readonly path: string;
  readonly iface: string;
  readonly member: string;
  readonly signature?: string;
  readonly body?: readonly unknown[];
}

// The bus answers these when the callee is gone; they mean "unavailable", not "Avahi said no".
const GONE = new Set(['org.freedesktop.DBus.Error.ServiceUnknown', 'org.freedesktop.DBus.Error.NameHasNoOwner', 'org.freedesktop.DBus.Error.NoReply', 'org.freedesktop.DBus.Error.Disconnected']);

export function toCallFailure(err: unknown): AvahiCallFailure {
  if (err instanceof AvahiCallError) return err.failure;
  if (err instanceof DBusError) {
    return GONE.has(err.type) ? { kind: 'unavailable', reason: err.type } : { kind: 'dbus-error', name: err.type, message: err.text };
  }
  // Anything else is the socket: "Cannot send message, stream is closed" and the like.
  return { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
}

function abortFailure(signal: AbortSignal): AvahiCallError {
  const reason: unknown = signal.reason;
  return reason instanceof AvahiCallError ? reason : new AvahiCallError({ kind: 'unavailable', reason: 'aborted' });
}

/** Method call with a deadline; resolves with the reply body (unnarrowed), rejects with AvahiCallError. */
export function callOnBus(bus: MessageBus, req: BusCall, timeoutMs: number, signal?: AbortSignal): Promise<readonly unknown[]> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortFailure(signal));
      return;
    }
    let done = false;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = (): void => finish(() => reject(abortFailure(signal as AbortSignal)));
    const timer = setTimeout(() => finish(() => reject(new AvahiCallError({ kind: 'timeout' }))), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let msg: Message;
    try {
      msg = new Message({
        destination: req.destination,
        path: req.path,
        interface: req.iface,
        member: req.member,
        signature: req.signature ?? '',
        body: [...(req.body ?? [])],
        // Never let the bus try to activate Avahi: a down Avahi must fail at once (ServiceUnknown).
        flags: MessageFlag.NO_AUTO_START,
      });
    } catch (err) {
      finish(() => reject(new AvahiCallError({ kind: 'dbus-error', name: 'invalid-message', message: String(err) })));
      return;
    }
    bus.call(msg).then(
      (reply) => {
        const body: unknown = reply?.body;
        finish(() => resolve(Array.isArray(body) ? body : []));
      },
      (err: unknown) => finish(() => reject(new AvahiCallError(toCallFailure(err)))),
    );
  });
}

/** Resolves once dbus-next has finished `Hello` (the bus assigned our unique name). */
export function waitForHello(bus: MessageBus, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void => {
      cleanup();
      reject(new AvahiCallError({ kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) }));
    };
    const ok = (): void => {
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => fail(new Error('D-Bus connect timed out')), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      bus.removeListener('connect', ok);
      bus.removeListener('error', fail);
    };
    bus.once('connect', ok);
    bus.once('error', fail);
  });
}

interface Closable {
  once(event: 'close', listener: () => void): unknown;
  destroy(): unknown;
}

const isClosable = (v: unknown): v is Closable =>
  typeof v === 'object' && v !== null && typeof (v as { once?: unknown }).once === 'function' && typeof (v as { destroy?: unknown }).destroy === 'function';

function streamOf(bus: MessageBus): Closable | undefined {
  const conn: unknown = (bus as unknown as { _connection?: unknown })._connection;
  const stream: unknown = typeof conn === 'object' && conn !== null ? (conn as { stream?: unknown }).stream : undefined;
  return isClosable(stream) ? stream : undefined;
}

/**
 * dbus-next's MessageBus only forwards socket *errors*; a clean close by the peer (dbus-daemon
 * exiting) is visible only on the socket it wraps (`bus._connection.stream`, lib/connection.js).
 * Reaching into it is the price of noticing a dead bus at once instead of at the next call.
 */
export function onStreamClosed(bus: MessageBus, listener: () => void): void {
  streamOf(bus)?.once('close', listener);
}

/**
 * Drop a connection for good. `MessageBus.disconnect()` only half-closes (stream.end()), which keeps
 * the socket open for as long as a wedged peer does not close its side: one leaked fd per retry.
 */
export function destroyBus(bus: MessageBus): void {
  try {
    bus.disconnect();
  } catch {
    // already closed
  }
  streamOf(bus)?.destroy();
}
