/**
 * The DNS front's lab: the namespace lab (router + LAN) plus an authority namespace (the
 * "internet" that hands each new name a new address) and a sink namespace those addresses route
 * to, with real Unbound in the router behind the sidecar's front. See README.md "Front lab".
 *
 *  LAN 10.77.0.2 (+ .3) ──► router 10.77.0.1:53  sidecar front ──PROXYv2──► Unbound 127.0.0.1@5301
 *                               10.77.0.1:5300 Unbound directly (the anchor)      │ stub example.
 *                               127.0.0.1:53   Unbound, the router's own resolver  ▼
 *  LAN ──TCP to 45.64.0.0/10──► router forward chain (counts first packets) ──► sink 10.79.0.2
 *                                                                 authority 10.78.0.2:53, :8080/domains
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { createLab, NetnsHost, type DnsQuery, type DnsResult, type Lab } from './lab.js';
import { ipSync } from './netns.js';
import { labScriptCommand } from './probe-client.js';
import { deleteNetnsSync, stopChild, track } from './reaper.js';
import { startSidecar, type Sidecar } from './sidecar.js';
import { waitFor } from './wait.js';

/** Where fresh answers point (the authority's `freshAddress` space), routed to the sink. */
export const FRESH_V4 = '45.64.0.0/10';
export const FRONT = { server: '10.77.0.1', port: 53 } as const;
/** Unbound's plain LAN interface: what a client gets without the front (the anchor). */
export const DIRECT = { server: '10.77.0.1', port: 5300 } as const;
/** Unbound's proxy-protocol-port interface, the front's upstream. */
export const UPSTREAM = '127.0.0.1:5301';
/** A second LAN client address, the one `refuse` lists in tests of Unbound's access-control. */
export const LAN_SECOND = '10.77.0.3';
/** Learning list domains: apex + subdomains, a wildcard, an IDN (written in Unicode, as users do). */
export const LIST_DOMAINS = ['listed.example', '*.wild.example', 'пример.example'] as const;
export const TABLE = 'lab';

/** Static answers from Unbound's own local-data: byte-for-byte stable, for pass-through checks. */
const DIRECT_DATA = ['direct.example. 3600 IN A 45.128.0.1', ...Array.from({ length: 40 }, (_, i) => `big.direct.example. 3600 IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`)];

export interface FrontLabOptions {
  /** Merged into the sidecar's `front` block; `false` runs the sidecar without a front. */
  readonly front?: Readonly<Record<string, unknown>> | false;
  /** Unbound logs client responses to the sidecar's dnstap socket (the path the front replaces). */
  readonly dnstap?: boolean;
  /** The list's learned TTL clamp, seconds. Default 300..86400 (the learner's defaults). */
  readonly learnTtl?: { readonly min: number; readonly max: number };
  /** LAN client addresses Unbound's access-control refuses. */
  readonly refuse?: readonly string[];
  readonly sidecarEnv?: Readonly<Record<string, string>>;
  readonly logLevel?: string;
}

export interface FirstPackets {
  /** New connections to fresh addresses whose first packet found the destination in the learned set. */
  readonly inSet: number;
  readonly notInSet: number;
}

export interface FrontLab {
  readonly lab: Lab;
  readonly auth: NetnsHost;
  readonly sink: NetnsHost;
  /** The running sidecar (replaced by `restartSidecar`). */
  readonly sidecar: Sidecar;
  /** Stops the sidecar and starts it again with this `front` block merged over the defaults. */
  restartSidecar(front: Readonly<Record<string, unknown>>): Promise<Sidecar>;
  /** A DNS exchange from the LAN client through the front (`via: 'front'`) or to Unbound directly. */
  ask(via: 'front' | 'direct', q: Omit<DnsQuery, 'server' | 'port'>): Promise<DnsResult>;
  firstPackets(): Promise<FirstPackets>;
  /** Whether `ip` is an element of the learned IPv4 set now. */
  learned(ip: string): Promise<boolean>;
  /** Pid of the running Unbound (for CPU accounting in benches). */
  unboundPid(): number | undefined;
  /** (Re)starts Unbound; `refuse` replaces the options' list. */
  startUnbound(refuse?: readonly string[]): Promise<void>;
  stopUnbound(): Promise<void>;
  teardown(): Promise<void>;
}

function rulesetText(): string {
  const fresh = `ip daddr ${FRESH_V4}`;
  return `table inet ${TABLE} {
  set vpn4 { type ipv4_addr; flags interval; }
  set vpn6 { type ipv6_addr; flags interval; }
  set learned4 { type ipv4_addr; flags timeout; }
  set learned6 { type ipv6_addr; flags timeout; }
  counter first_in_set { }
  counter first_not_in_set { }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state new ${fresh} ip daddr @learned4 counter name "first_in_set"
    ct state new ${fresh} ip daddr != @learned4 counter name "first_not_in_set"
  }
}
`;
}

function unboundServerLines(refuse: readonly string[]): string[] {
  return [
    `interface: ${UPSTREAM.replace(':', '@')}`,
    `interface: ${DIRECT.server}@${DIRECT.port}`,
    // PROXYv2 on this port only (Unbound ≥ 1.17, doc/unbound.conf.5 "proxy-protocol-port").
    `proxy-protocol-port: ${UPSTREAM.split(':')[1]}`,
    'so-rcvbuf: 1m', // as render-unbound.ts and the NixOS module configure it
    'access-control: 10.77.0.0/24 allow',
    ...refuse.map((a) => `access-control: ${a}/32 refuse`),
    'qname-minimisation: no',
    'rrset-roundrobin: no',
    'domain-insecure: "example."',
    'local-zone: "direct.example." static',
    ...DIRECT_DATA.map((d) => `local-data: '${d}'`),
  ];
}

function extraNetns(name: string, role: 'router' | 'lan', ifname: string, ipv4: string, logDir: string): NetnsHost {
  ipSync(['netns', 'add', name]);
  ipSync(['-n', name, 'link', 'set', 'lo', 'up']);
  return new NetnsHost(name, role, ifname, ipv4, '::1', '', name, logDir);
}

/** A veth between the router and `peer`: `routerSide` address on the router, the peer's on its end. */
function link(router: NetnsHost, peer: NetnsHost, routerIf: string, routerSide: string): void {
  ipSync(['link', 'add', 'name', routerIf, 'netns', router.name, 'type', 'veth', 'peer', 'name', peer.ifname, 'netns', peer.name]);
  ipSync(['-n', router.name, 'addr', 'add', `${routerSide}/24`, 'dev', routerIf]);
  ipSync(['-n', peer.name, 'addr', 'add', `${peer.ipv4}/24`, 'dev', peer.ifname]);
  ipSync(['-n', router.name, 'link', 'set', routerIf, 'up']);
  ipSync(['-n', peer.name, 'link', 'set', peer.ifname, 'up']);
  ipSync(['-n', peer.name, 'route', 'add', 'default', 'via', routerSide]);
}

async function startAuthority(auth: NetnsHost): Promise<ChildProcess> {
  const child = auth.spawn([...labScriptCommand('fixture-authority'), ...LIST_DOMAINS]);
  let ready = false;
  // Drained always: a full pipe would block the authority mid-answer.
  createInterface({ input: child.stdout! }).on('line', (l) => (ready ||= l.includes('"ready"')));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => process.stderr.write(`[authority] ${d}`));
  await waitFor('the fixture authority', () => {
    if (child.exitCode !== null) throw new Error(`fixture authority exited ${child.exitCode}`);
    return ready;
  });
  return child;
}

export async function createFrontLab(opts: FrontLabOptions = {}): Promise<FrontLab> {
  const lab = await createLab();
  const auth = extraNetns(`us-r-${lab.id.replace('-', '-8')}`, 'router', 'up0', '10.78.0.2', join(lab.dir, 'router'));
  const sink = extraNetns(`us-r-${lab.id.replace('-', '-7')}`, 'lan', 'sink0', '10.79.0.2', join(lab.dir, 'lan'));
  const untrack = track({
    sweepSync: () => {
      deleteNetnsSync(auth.name);
      deleteNetnsSync(sink.name);
    },
  });
  let authority: ChildProcess | undefined;
  let refuse = opts.refuse ?? [];
  const down = async (): Promise<void> => {
    if (authority) await stopChild(authority, 'SIGTERM', 1000);
    await Promise.allSettled([auth.stopAll(500), sink.stopAll(500)]);
    await lab.teardown();
    deleteNetnsSync(auth.name);
    deleteNetnsSync(sink.name);
    untrack();
  };
  try {
    const r = lab.router;
    link(r, auth, 'auth0', '10.78.0.1');
    link(r, sink, 'sink0', '10.79.0.1');
    await r.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    ipSync(['-n', r.name, 'route', 'add', FRESH_V4, 'via', sink.ipv4]);
    // The sink owns the whole fresh space (an AnyIP route), so a SYN is refused at once with a RST.
    ipSync(['-n', sink.name, 'route', 'add', 'local', FRESH_V4, 'dev', 'lo']);
    ipSync(['-n', lab.lan.name, 'route', 'add', 'default', 'via', lab.routerIp]);
    ipSync(['-n', lab.lan.name, 'addr', 'add', `${LAN_SECOND}/24`, 'dev', lab.lan.ifname]);
    await r.run(['nft', '-f', '-'], { input: rulesetText() });
    authority = await startAuthority(auth);

    const dnstapSocket = join(lab.dir, 'router', 'dnstap.sock');
    let unboundPid: number | undefined;
    const startUnbound = async (): Promise<void> => {
      const dnstap = opts.dnstap ? ['dnstap:', '  dnstap-enable: yes', `  dnstap-socket-path: "${dnstapSocket}"`, '  dnstap-log-client-response-messages: yes'] : [];
      ({ pid: unboundPid } = await lab.startUnbound({
        forwardZones: [],
        forwardTo: '',
        snippet: ['stub-zone:', '  name: "example."', `  stub-addr: ${auth.ipv4}`, ...dnstap, ''].join('\n'),
        extraServer: unboundServerLines(refuse),
      }));
    };
    await startUnbound();
    const ttl = opts.learnTtl ?? { min: 300, max: 86_400 };
    const sidecarConfig = (front: FrontLabOptions['front']): Record<string, unknown> => ({
      ...(front === false ? {} : { front: { listen: [`${FRONT.server}:${FRONT.port}`], upstream: UPSTREAM, ...front } }),
      ...(opts.dnstap ? { dnstap: { socket: dnstapSocket } } : {}),
      lists: [
        {
          name: 'lab',
          sources: [{ url: `http://${auth.ipv4}:8080/domains`, format: 'json', contains: 'domains' }],
          nft: { family: 'inet', table: TABLE, set4: 'vpn4', set6: 'vpn6' },
          learn: { set4: 'learned4', set6: 'learned6', minTtl: ttl.min, maxTtl: ttl.max, resolve: false },
        },
      ],
      resolve: { enabled: false },
      admin: { socket: join(lab.dir, 'router', 'admin.sock') },
      log: { level: opts.logLevel ?? 'info' },
    });
    const metrics = async (port: number): Promise<string> => {
      const m = await lab.http('router', `http://127.0.0.1:${port}/metrics`);
      return m.ok ? m.body : '';
    };
    /**
     * Ready (/readyz) means snapshots restored; only after the list's first download do its
     * names match. With dnstap, Unbound is restarted once the socket exists (its dtio reconnect
     * backs off for seconds after a failed first connect).
     */
    const start = async (front: FrontLabOptions['front']): Promise<Sidecar> => {
      const s = await startSidecar(lab, { env: opts.sidecarEnv ?? {}, config: sidecarConfig(front) });
      // SIGHUP downloads every list now, instead of after the first refresh's start-up jitter (up to 8 s).
      if (s.child.pid !== undefined) process.kill(s.child.pid, 'SIGHUP');
      await waitFor(
        'the learning list downloaded',
        async () => {
          const m = await metrics(s.metricsPort);
          return (
            new RegExp(`^unbound_sidecar_list_domains\\{list="lab"\\} ${LIST_DOMAINS.length}$`, 'm').test(m) && /^unbound_sidecar_list_last_success_timestamp_seconds\{list="lab"\} [1-9]/m.test(m)
          );
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      if (opts.dnstap) {
        await startUnbound();
        await waitFor('Unbound connected to the dnstap socket', async () => /^unbound_sidecar_learner_dnstap_connections 1$/m.test(await metrics(s.metricsPort)));
      }
      return s;
    };
    let sidecar = await start(opts.front);
    const counter = async (name: string): Promise<number> => {
      const doc = JSON.parse(await r.run(['nft', '-j', 'list', 'counter', 'inet', TABLE, name])) as { nftables: Array<{ counter?: { packets?: number } }> };
      return doc.nftables.find((x) => x.counter)?.counter?.packets ?? Number.NaN;
    };
    return {
      lab,
      auth,
      sink,
      get sidecar() {
        return sidecar;
      },
      async restartSidecar(front) {
        await sidecar.stop();
        sidecar = await start(front);
        return sidecar;
      },
      ask: (via, q) => lab.dns('lan', { ...(via === 'front' ? FRONT : DIRECT), timeoutMs: 2000, ...q }),
      async firstPackets() {
        const [inSet, notInSet] = await Promise.all([counter('first_in_set'), counter('first_not_in_set')]);
        return { inSet, notInSet };
      },
      async learned(ip) {
        return (await r.exec(['nft', 'get', 'element', 'inet', TABLE, 'learned4', `{ ${ip} }`])).code === 0;
      },
      async startUnbound(next) {
        if (next) refuse = next;
        await startUnbound();
      },
      unboundPid: () => unboundPid,
      stopUnbound: () => lab.stopUnbound(),
      teardown: down,
    };
  } catch (err) {
    await down().catch(() => undefined);
    throw err;
  }
}
