import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';

/**
 * Binds the front's listen addresses, and keeps trying the ones no interface holds yet. On a
 * router the daemon may start before the LAN bridge has its address (DHCP, a bridge brought up
 * later, IPv6 duplicate address detection); bind(2) then fails with EADDRNOTAVAIL (Linux
 * net/ipv4/af_inet.c `__inet_bind` → `inet_addr_valid_or_nonlocal`: not a local address and no
 * IP_FREEBIND / ip_nonlocal_bind; net/ipv6/af_inet6.c `__inet6_bind`, where a tentative address
 * does not count as local yet). Node's
 * dgram and net have no IP_FREEBIND option, so: the other addresses are served, the missing one is
 * retried with backoff (first after `firstMs`, doubling up to `maxMs`, forever), and at once when
 * an interface reports the address (polled every `pollMs` while one is missing — getifaddrs is a
 * netlink dump, cheap at that rate). Any other error (EACCES, EADDRINUSE) is a setup mistake that
 * retrying would hide: `start` rejects with it.
 */

export interface ListenAddress {
  /** As configured (`10.77.0.1:53`), for logs and status. */
  readonly spec: string;
  readonly host: string;
  readonly port: number;
}

export interface ListenRetryOptions {
  readonly addresses: readonly ListenAddress[];
  /** Binds UDP and TCP on one address, both or neither; rejects with the bind error. */
  readonly bind: (a: ListenAddress) => Promise<void>;
  /** An address that was missing is bound now, after `tries` attempts. */
  readonly onLateBind: (a: ListenAddress, tries: number) => void;
  readonly logger: Logger;
  readonly firstMs?: number;
  readonly maxMs?: number;
  readonly pollMs?: number;
  /** Whether an interface holds `host` now; default: os.networkInterfaces(). */
  readonly present?: (host: string) => boolean;
}

export interface ListenRetry {
  /** Binds every address in order; resolves with the missing ones still retried, rejects on any other error. */
  start(): Promise<void>;
  /** Cancels every retry and waits for an attempt under way (what it bound, the caller closes). */
  stop(): Promise<void>;
  /** Listen addresses not bound yet, as configured. */
  pending(): string[];
}

interface Missing {
  readonly a: ListenAddress;
  tries: number;
  timer: NodeJS.Timeout | undefined;
  attempt: Promise<void> | undefined;
}

const NOT_THERE = 'EADDRNOTAVAIL';

export function createListenRetry(o: ListenRetryOptions): ListenRetry {
  const firstMs = o.firstMs ?? 500;
  const maxMs = o.maxMs ?? 30_000;
  const pollMs = o.pollMs ?? 1000;
  const present = o.present ?? onAnInterface;
  const missing = new Map<string, Missing>();
  let poller: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (m: Missing): void => {
    clearTimeout(m.timer);
    const delay = Math.min(maxMs, firstMs * 2 ** Math.min(m.tries - 1, 30));
    m.timer = setTimeout(() => void attempt(m), delay);
    m.timer.unref();
  };

  const attempt = (m: Missing): Promise<void> => {
    if (m.attempt !== undefined || stopped) return m.attempt ?? Promise.resolve();
    clearTimeout(m.timer);
    m.tries++;
    const run = o.bind(m.a).then(
      () => {
        missing.delete(m.a.spec);
        if (missing.size === 0) clearInterval(poller);
        if (!stopped) o.onLateBind(m.a, m.tries);
      },
      (err: NodeJS.ErrnoException) => {
        if (stopped) return;
        if (err.code !== NOT_THERE) o.logger.error({ listen: m.a.spec, err }, `dns-front: cannot listen on ${m.a.spec}: ${err.message}; still retrying`);
        else o.logger.debug({ listen: m.a.spec, tries: m.tries }, 'dns-front: listen address still missing');
        schedule(m);
      },
    );
    m.attempt = run.finally(() => (m.attempt = undefined));
    return m.attempt;
  };

  const poll = (): void => {
    for (const m of missing.values()) if (m.attempt === undefined && present(m.a.host)) void attempt(m);
  };

  return {
    async start() {
      stopped = false;
      for (const a of o.addresses) {
        try {
          await o.bind(a);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== NOT_THERE) throw err;
          o.logger.error(
            { listen: a.spec, code: NOT_THERE },
            `dns-front: cannot listen on ${a.spec} yet: no interface has ${a.host} (${NOT_THERE}). The other addresses are served; this one is retried (at most ${maxMs / 1000} s apart, at once when the address appears). Assign the address, or let the kernel bind before it exists with sysctl net.ipv4.ip_nonlocal_bind=1 (IPv6: net.ipv6.ip_nonlocal_bind=1) and list front.allow`,
          );
          const m: Missing = { a, tries: 1, timer: undefined, attempt: undefined };
          missing.set(a.spec, m);
          schedule(m);
        }
      }
      if (missing.size > 0 && !stopped) {
        poller = setInterval(poll, pollMs);
        poller.unref();
      }
    },
    async stop() {
      stopped = true;
      clearInterval(poller);
      const under = [...missing.values()].map((m) => (clearTimeout(m.timer), m.attempt));
      missing.clear();
      await Promise.allSettled(under);
    },
    pending: () => [...missing.keys()],
  };
}

function onAnInterface(host: string): boolean {
  const bare = host.split('%')[0] ?? host;
  return Object.values(networkInterfaces()).some((infos) => (infos ?? []).some((i) => i.address === bare));
}
