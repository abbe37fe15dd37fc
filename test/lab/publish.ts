/**
 * `avahi-publish` processes on the LAN host. Each publication lives as long as its process; the
 * promise settles when Avahi reports the name established (after mDNS probing, ~1 s).
 */
import type { ChildProcess } from 'node:child_process';
import type { NetnsHost } from './netns.js';
import { stopChild } from './reaper.js';

export interface Publication {
  readonly what: string;
  /** Stops the avahi-publish process: Avahi sends goodbye packets (TTL 0) for its records. */
  withdraw(): Promise<void>;
}

export interface ServiceOptions {
  /** Publish the service as living on this host name (`-H`); default: the LAN host itself. */
  readonly host?: string;
  readonly subtypes?: readonly string[];
}

function waitEstablished(child: ChildProcess, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: string): void => {
      out += d;
      if (/Established under name/.test(out)) done();
      else if (/collision|failed|error/i.test(out)) done(new Error(`lab: avahi-publish ${what}: ${out.trim()}`));
    };
    const onExit = (code: number | null): void => done(new Error(`lab: avahi-publish ${what} exited ${code}: ${out.trim()}`));
    const timer = setTimeout(() => done(new Error(`lab: avahi-publish ${what}: not established after ${timeoutMs} ms: ${out.trim()}`)), timeoutMs);
    function done(err?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    child.on('exit', onExit);
  });
}

export async function publish(host: NetnsHost, args: readonly string[], what: string, timeoutMs = 10_000): Promise<Publication> {
  const child = host.spawn(['avahi-publish', ...args], { env: { DBUS_SYSTEM_BUS_ADDRESS: host.bus } });
  try {
    await waitEstablished(child, what, timeoutMs);
  } catch (err) {
    await stopChild(child, 'SIGKILL', 0);
    throw err;
  }
  // Keep draining its output so the pipe never fills and blocks it.
  child.stdout?.resume();
  child.stderr?.resume();
  return { what, withdraw: () => stopChild(child, 'SIGTERM', 2000) };
}

/** `-R`: no reverse (PTR) record, so several names may share an address without a conflict. */
export function addressArgs(name: string, ip: string, reverse = false): string[] {
  return ['-a', ...(reverse ? [] : ['-R']), name, ip];
}

export function serviceArgs(name: string, type: string, port: number, txt: readonly string[], opts: ServiceOptions = {}): string[] {
  return ['-s', ...(opts.host ? ['-H', opts.host] : []), ...(opts.subtypes ?? []).flatMap((s) => ['--subtype', s]), name, type, String(port), ...txt];
}
