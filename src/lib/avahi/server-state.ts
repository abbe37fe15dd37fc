import { sessionBus } from '@particle/dbus-next';
import type { MessageBus } from '@particle/dbus-next';
import { callOnBus, destroyBus, waitForHello } from './bus-call.js';
import { AVAHI_BUS_NAME, AVAHI_SERVER_IFACE, AVAHI_SERVER_PATH, DBUS_IFACE, DBUS_NAME, DBUS_PATH } from './types.js';

/** Is Avahi there, and is it ready: the questions asked before a connection is called "up". */

/** org.freedesktop.Avahi.Server.GetState: AVAHI_SERVER_RUNNING (avahi-common/defs.h). */
const AVAHI_SERVER_RUNNING = 2;
const RUNNING_WAIT_MS = 5000;
const POLL_MS = 100;

export function defaultBusAddress(): string {
  return process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket';
}

/**
 * A freshly started avahi-daemon owns its bus name ~1 s before it is RUNNING (it probes its host
 * name first), and browses opened meanwhile miss answers: the lab saw NXDOMAIN for a published host
 * right after Avahi appeared. So "up" waits for GetState() == AVAHI_SERVER_RUNNING (2), polling (no
 * extra match rule), at most RUNNING_WAIT_MS — a host-name collision loop must not keep Avahi unused
 * forever. Resolves true when RUNNING (or when Avahi cannot say: the browses will judge it), false
 * after the wait; stops early once `wanted()` turns false.
 */
export async function waitUntilRunning(bus: MessageBus, owner: string, callTimeoutMs: number, wanted: () => boolean): Promise<boolean> {
  const deadline = Date.now() + RUNNING_WAIT_MS;
  while (Date.now() < deadline && wanted()) {
    try {
      const [state] = await callOnBus(bus, { destination: owner, path: AVAHI_SERVER_PATH, iface: AVAHI_SERVER_IFACE, member: 'GetState' }, callTimeoutMs);
      if (state === AVAHI_SERVER_RUNNING) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return !wanted();
}

/** Is `org.freedesktop.Avahi` owned on the bus right now? false on any error (for `backend: auto`). */
export async function isAvahiPresent(busAddress?: string, timeoutMs = 1000): Promise<boolean> {
  let bus: MessageBus | undefined;
  try {
    bus = sessionBus({ busAddress: busAddress ?? defaultBusAddress(), authMethods: ['EXTERNAL'] });
    bus.on('error', () => {});
    await waitForHello(bus, timeoutMs);
    const msg = { destination: DBUS_NAME, path: DBUS_PATH, iface: DBUS_IFACE, member: 'NameHasOwner', signature: 's', body: [AVAHI_BUS_NAME] };
    const [has] = await callOnBus(bus, msg, timeoutMs);
    return has === true;
  } catch {
    return false;
  } finally {
    if (bus !== undefined) destroyBus(bus);
  }
}
