/**
 * avahi-daemon per namespace. Its pid file and socket paths are compiled in (/run/avahi-daemon),
 * so each daemon gets a private mount namespace (`unshare -m`, private propagation by default)
 * with a tmpfs on /run. It drops root to `avahi` as on a router, so the lab dir must be traversable.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetnsHost } from './netns.js';
import { dbusSendArgs, nameHasOwner } from './dbus.js';
import { stopChild } from './reaper.js';
import { waitFor } from './wait.js';

export function renderAvahiConfig(hostName: string, ifname: string): string {
  return [
    '[server]',
    `host-name=${hostName}`,
    'domain-name=local',
    'use-ipv4=yes',
    'use-ipv6=yes',
    `allow-interfaces=${ifname}`,
    'enable-dbus=yes',
    'ratelimit-interval-usec=1000000',
    'ratelimit-burst=1000',
    '[wide-area]',
    'enable-wide-area=no',
    '[publish]',
    'publish-hinfo=no',
    'publish-workstation=no',
    'publish-addresses=yes',
    '[reflector]',
    '[rlimits]',
    '',
  ].join('\n');
}

/** AVAHI_SERVER_RUNNING: host name established, ready to browse and publish. */
const SERVER_RUNNING = 2;

export async function avahiState(host: NetnsHost): Promise<number | undefined> {
  const r = await host.exec(dbusSendArgs(host.bus, 'org.freedesktop.Avahi', '/', 'org.freedesktop.Avahi.Server.GetState'), { timeoutMs: 5000 });
  const m = /int32 (\d+)/.exec(r.stdout);
  return r.code === 0 && m?.[1] ? Number(m[1]) : undefined;
}

export class AvahiDaemon {
  private child: ChildProcess | undefined;
  private readonly conf: string;

  constructor(
    private readonly host: NetnsHost,
    dir: string,
  ) {
    this.conf = join(dir, 'avahi-daemon.conf');
    writeFileSync(this.conf, renderAvahiConfig(host.avahiHostName, host.ifname));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const script = `mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/avahi-daemon && exec avahi-daemon -f '${this.conf}' --no-chroot --no-rlimits --no-proc-title`;
    const child = this.host.spawn(['unshare', '-m', 'sh', '-c', script], {
      env: { DBUS_SYSTEM_BUS_ADDRESS: this.host.bus },
      logName: 'avahi-daemon',
    });
    this.child = child;
    await waitFor(`avahi-daemon in ${this.host.name}`, async () => {
      if (child.exitCode !== null) throw new Error(`avahi-daemon exited ${child.exitCode}; see its log in the lab dir`);
      return (await nameHasOwner(this.host, 'org.freedesktop.Avahi')) && (await avahiState(this.host)) === SERVER_RUNNING;
    });
  }

  /** SIGKILL by default (a crash); waits until the bus has dropped its name. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await stopChild(child, signal, 3000);
    await waitFor(`org.freedesktop.Avahi to leave the bus in ${this.host.name}`, async () => !(await nameHasOwner(this.host, 'org.freedesktop.Avahi')));
  }
}
