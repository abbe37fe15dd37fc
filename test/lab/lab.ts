/**
 * The namespace lab: a "router" and a "LAN host" namespace joined by a veth, each with its own
 * system bus and avahi-daemon; Unbound and the sidecar run in the router namespace. See README.md.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AvahiDaemon } from './avahi.js';
import { startBus } from './dbus.js';
import { FIXTURES, LAN_V4, LAN_V6 } from './fixtures.js';
import { ipSync, NetnsHost, type ExecOptions, type ExecResult } from './netns.js';
import { Probe, type DnsQuery, type DnsResult, type HttpResult } from './probe-client.js';
import { addressArgs, publish, serviceArgs, type Publication, type ServiceOptions } from './publish.js';
import { deleteNetnsSync, installSignalCleanup, killGroupSync, removeDirSync, sweepStaleNamespaces, track } from './reaper.js';
import { Unbound, type UnboundOptions } from './unbound.js';

export type { Publication, ServiceOptions } from './publish.js';
export type { UnboundOptions } from './unbound.js';
export type { DnsQuery, DnsResult, HttpResult } from './probe-client.js';
export type { ExecOptions, ExecResult } from './netns.js';
export { NetnsHost } from './netns.js';

export type NsName = 'router' | 'lan';

export interface LabOptions {
  /** Publish FIXTURES from the LAN host before returning. Default false. */
  readonly fixtures?: boolean;
  /** Install SIGINT/SIGTERM/SIGHUP handlers that sweep the lab and re-raise. Default true. */
  readonly handleSignals?: boolean;
  /** Keep the temp dir (logs, configs) after teardown. Default: `LAB_KEEP=1` in the environment. */
  readonly keepDir?: boolean;
}

export interface Lab {
  /** `<pid>-<n>`, unique per run; part of every name the lab creates. */
  readonly id: string;
  readonly router: NetnsHost;
  readonly lan: NetnsHost;
  /** `unix:path=…` of the router namespace's system bus (give it to the sidecar). */
  readonly routerBus: string;
  readonly lanBus: string;
  readonly routerIp: string;
  readonly lanIp: string;
  readonly routerIp6: string;
  readonly lanIp6: string;
  /** Avahi host names, with `.local`: `router-<id>.local`, `lanhost-<id>.local`. */
  readonly routerHostName: string;
  readonly lanHostName: string;
  /** Temp dir with router/ and lan/ subdirs holding configs and daemon logs. */
  readonly dir: string;

  startRouterAvahi(): Promise<void>;
  /** Default SIGKILL (a crash); resolves once the bus no longer lists org.freedesktop.Avahi. */
  stopRouterAvahi(signal?: NodeJS.Signals): Promise<void>;
  /** `avahi-publish -a -R NAME IP` on the LAN host; resolves when established. */
  publishAddress(name: string, ip: string): Promise<Publication>;
  /** `avahi-publish -s NAME TYPE PORT TXT…` on the LAN host; resolves when established. */
  publishService(name: string, type: string, port: number, txt: readonly string[], opts?: ServiceOptions): Promise<Publication>;
  /** Publishes FIXTURES (idempotent). */
  publishFixtures(): Promise<void>;
  /** (Re)starts Unbound in the router namespace on 127.0.0.1:`port` (default 53). */
  startUnbound(opts: UnboundOptions): Promise<{ addr: string; port: number; pid: number | undefined }>;
  stopUnbound(): Promise<void>;

  host(ns: NsName): NetnsHost;
  exec(ns: NsName, cmd: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** A tracked process group in `ns`, stopped by teardown. Pipes for stdio unless `logName`. */
  spawnIn(ns: NsName, cmd: readonly string[], env?: Readonly<Record<string, string>>, logName?: string): ChildProcess;
  /** One DNS exchange from inside `ns`, timed there (see probe-protocol.ts). */
  dns(ns: NsName, q: DnsQuery): Promise<DnsResult>;
  /** HTTP GET from inside `ns` (e.g. the sidecar's /readyz). */
  http(ns: NsName, url: string, timeoutMs?: number): Promise<HttpResult>;
  /** Stops everything, deletes both namespaces and the temp dir. Idempotent. */
  teardown(): Promise<void>;
}

let counter = 0;

export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  if (opts.handleSignals !== false) installSignalCleanup();
  sweepStaleNamespaces(['us-r', 'us-l']);
  const id = `${process.pid}-${++counter}`;
  const dir = mkdtempSync(join(tmpdir(), `us-lab-${id}-`));
  // avahi-daemon drops root to `avahi` and must reach its bus socket inside this dir.
  chmodSync(dir, 0o755);
  const mk = (role: NsName, ns: string, ipv4: string, ipv6: string, hostName: string): NetnsHost => {
    const sub = join(dir, role);
    mkdirSync(sub, { mode: 0o755 });
    return new NetnsHost(ns, role, 'lan0', ipv4, ipv6, `unix:path=${join(sub, 'bus')}`, hostName, sub);
  };
  const router = mk('router', `us-r-${id}`, LAN_V4.router, LAN_V6.router, `router-${id}`);
  const lan = mk('lan', `us-l-${id}`, LAN_V4.lan, LAN_V6.lan, `lanhost-${id}`);
  const keepDir = opts.keepDir ?? process.env.LAB_KEEP === '1';

  const untrack = track({
    sweepSync() {
      for (const h of [router, lan]) for (const pid of h.pids()) killGroupSync(pid, 'SIGKILL');
      deleteNetnsSync(router.name);
      deleteNetnsSync(lan.name);
      if (!keepDir) removeDirSync(dir);
    },
  });

  const routerAvahi = new AvahiDaemon(router, router.logDir);
  const lanAvahi = new AvahiDaemon(lan, lan.logDir);
  const unbound = new Unbound(router, router.logDir);
  const probes = new Map<NsName, Promise<Probe>>();
  const publications: Publication[] = [];
  let fixtures: Promise<void> | undefined;
  let tornDown = false;

  const probe = (ns: NsName): Promise<Probe> => {
    let p = probes.get(ns);
    if (!p) {
      p = Probe.start(ns === 'router' ? router : lan);
      probes.set(ns, p);
    }
    return p;
  };

  const lab: Lab = {
    id,
    router,
    lan,
    dir,
    routerBus: router.bus,
    lanBus: lan.bus,
    routerIp: router.ipv4,
    lanIp: lan.ipv4,
    routerIp6: router.ipv6,
    lanIp6: lan.ipv6,
    routerHostName: `${router.avahiHostName}.local`,
    lanHostName: `${lan.avahiHostName}.local`,
    startRouterAvahi: () => routerAvahi.start(),
    stopRouterAvahi: (signal) => routerAvahi.stop(signal),
    async publishAddress(name, ip) {
      const p = await publish(lan, addressArgs(name, ip), `${name} ${ip}`);
      publications.push(p);
      return p;
    },
    async publishService(name, type, port, txt, o) {
      const p = await publish(lan, serviceArgs(name, type, port, txt, o), `${name} ${type}`);
      publications.push(p);
      return p;
    },
    publishFixtures() {
      fixtures ??= (async () => {
        await Promise.all([
          lab.publishAddress(FIXTURES.printer.name, FIXTURES.printer.ipv4),
          lab.publishAddress(FIXTURES.dual.name, FIXTURES.dual.ipv6),
          lab.publishAddress(FIXTURES.dual.name, FIXTURES.dual.linkLocal),
          ...FIXTURES.ipp.instances.map((i) => lab.publishService(i.name, FIXTURES.ipp.type, i.port, i.txt)),
          lab.publishService(FIXTURES.big.name, FIXTURES.big.type, FIXTURES.big.port, FIXTURES.big.txt),
        ]);
      })();
      return fixtures;
    },
    async startUnbound(o) {
      return unbound.start(o, await probe('router'));
    },
    stopUnbound: () => unbound.stop(),
    host: (ns) => (ns === 'router' ? router : lan),
    exec: (ns, cmd, o) => lab.host(ns).exec(cmd, o),
    spawnIn: (ns, cmd, env, logName) => lab.host(ns).spawn(cmd, { ...(env ? { env } : {}), ...(logName ? { logName } : {}) }),
    async dns(ns, q) {
      return (await probe(ns)).dns(q);
    },
    async http(ns, url, timeoutMs) {
      return (await probe(ns)).http(url, timeoutMs);
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      await Promise.allSettled(publications.map((p) => p.withdraw()));
      await Promise.allSettled([...probes.values()].map(async (p) => (await p).close()));
      await unbound.stop();
      await Promise.allSettled([router.stopAll(), lan.stopAll()]);
      deleteNetnsSync(router.name);
      deleteNetnsSync(lan.name);
      if (!keepDir) removeDirSync(dir);
      untrack();
    },
  };

  try {
    ipSync(['netns', 'add', router.name]);
    ipSync(['netns', 'add', lan.name]);
    ipSync(['link', 'add', 'name', router.ifname, 'netns', router.name, 'type', 'veth', 'peer', 'name', lan.ifname, 'netns', lan.name]);
    for (const h of [router, lan]) {
      ipSync(['-n', h.name, 'link', 'set', 'lo', 'up']);
      ipSync(['-n', h.name, 'addr', 'add', `${h.ipv4}/${LAN_V4.prefix}`, 'dev', h.ifname]);
      // nodad: the ULA is usable at once instead of after ~1 s of duplicate address detection.
      ipSync(['-n', h.name, 'addr', 'add', `${h.ipv6}/${LAN_V6.prefix}`, 'dev', h.ifname, 'nodad']);
      ipSync(['-n', h.name, 'link', 'set', h.ifname, 'up']);
    }
    await Promise.all([startBus(router, router.logDir), startBus(lan, lan.logDir)]);
    await Promise.all([routerAvahi.start(), lanAvahi.start()]);
    if (opts.fixtures) await lab.publishFixtures();
  } catch (err) {
    await lab.teardown().catch(() => undefined);
    throw err;
  }
  return lab;
}
