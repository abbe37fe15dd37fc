/**
 * A private system bus per namespace. The config is derived from the distribution's system.conf
 * (so the real policy, including /usr/share/dbus-1/system.d/avahi-dbus.conf, applies) minus what
 * only makes sense for the one system bus: the user switch, fork, pid file, syslog, service
 * activation. Its match-rule and connection limits stay the real ones on purpose: a client that
 * leaks match rules must fail here as it would on a router.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetnsHost } from './netns.js';
import { waitFor } from './wait.js';

export const SYSTEM_CONF = '/usr/share/dbus-1/system.conf';

export function renderBusConfig(socketPath: string, systemConf = SYSTEM_CONF): string {
  return (
    readFileSync(systemConf, 'utf8')
      .replace(/<user>[^<]*<\/user>/g, '')
      .replace(/<fork\s*\/>/g, '')
      .replace(/<pidfile>[^<]*<\/pidfile>/g, '')
      .replace(/<syslog\s*\/>/g, '')
      .replace(/<standard_system_servicedirs\s*\/>/g, '')
      .replace(/<servicehelper>[^<]*<\/servicehelper>/g, '')
      .replace(/<listen>[^<]*<\/listen>/g, `<listen>unix:path=${socketPath}</listen>`)
      // Relative includedirs resolve against the config file's directory, which is now ours.
      .replace(/<includedir>system\.d<\/includedir>/g, '<includedir>/usr/share/dbus-1/system.d</includedir>')
  );
}

/** `dbus-send` against a given bus; `--bus=` registers with the bus (`--address` alone does not). */
export function dbusSendArgs(bus: string, dest: string, path: string, method: string, ...args: string[]): string[] {
  return ['dbus-send', `--bus=${bus}`, '--print-reply', `--reply-timeout=2000`, `--dest=${dest}`, path, method, ...args];
}

export async function nameHasOwner(host: NetnsHost, name: string): Promise<boolean> {
  const r = await host.exec(dbusSendArgs(host.bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${name}`), { timeoutMs: 5000 });
  return r.code === 0 && /boolean true/.test(r.stdout);
}

export async function startBus(host: NetnsHost, dir: string): Promise<ChildProcess> {
  const socketPath = join(dir, 'bus');
  const conf = join(dir, 'bus.conf');
  writeFileSync(conf, renderBusConfig(socketPath));
  const child = host.spawn(['dbus-daemon', `--config-file=${conf}`, '--nofork', '--nopidfile'], { logName: 'dbus-daemon' });
  await waitFor(`dbus-daemon in ${host.name}`, async () => {
    if (child.exitCode !== null) throw new Error(`dbus-daemon exited ${child.exitCode}; see ${dir}/dbus-daemon.log`);
    if (!existsSync(socketPath)) return false;
    const r = await host.exec(dbusSendArgs(host.bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetId'));
    return r.code === 0;
  });
  return child;
}
