/**
 * What a LAN client waits for, cold, through the real Unbound → sidecar (Avahi backend) → Avahi:
 *
 * - `getaddrinfo(AF_UNSPEC)` (Python in the LAN namespace, glibc asking A and AAAA at once) of an
 *   A-only and of a dual-stack host never asked before, then again (warm: Unbound's cache).
 *   Target: A-only p50 ≤ 300 ms cold, ≤ 20 ms warm (before: ~1 s cold, the AAAA waited the
 *   whole mdns.timeoutMs for an answer that does not exist).
 * - A DNS-SD walk of a service type never browsed before (PTR → SRV + TXT → A + AAAA, as a
 *   DNS-SD client does it), from the router namespace through Unbound. Targets: SRV/TXT ≤ 50 ms
 *   p50 cold, the walk ≤ 1.5 s p50 cold (before: SRV/TXT ~1 s each, the walk ~3 s).
 *
 * Anchors in the same run, against the same avahi-daemon: `avahi-resolve -n` for the hosts and
 * `avahi-browse -r -t` for the walk (both a process per lookup, timed around the process with
 * bash's EPOCHREALTIME). Every sample uses fresh names, published up front (the router's Avahi
 * hears their announcements, as on a real LAN).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, type Lab } from '../test/lab/lab.js';
import { labMissing, sidecarMissing } from '../test/lab/prereqs.js';
import { startSidecar } from '../test/lab/sidecar.js';
import { startRenderedUnbound } from '../test/integration/lab-dns.js';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { summarize, type LatencySummary } from './latency-stats.js';

const N = envNumber('BENCH_WALK_SAMPLES', 8);
const missing = labMissing() ?? sidecarMissing();
if (missing) {
  console.error(`cold-lookup-walk: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

/** glibc in the LAN namespace, resolv.conf → the router's Unbound (bind-mounted in a private mount namespace). */
async function lanGetaddrinfo(lab: Lab, names: readonly string[]): Promise<number[]> {
  const conf = join(lab.dir, 'lan', 'resolv.conf');
  writeFileSync(conf, 'nameserver 10.77.0.1\n');
  const py = [
    'import socket, sys, time',
    'for n in sys.argv[1:]:',
    '    t = time.perf_counter()',
    '    socket.getaddrinfo(n, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)',
    '    print((time.perf_counter() - t) * 1000)',
  ].join('\n');
  const r = await lab.exec('lan', ['unshare', '-m', 'sh', '-c', `mount --bind ${conf} /etc/resolv.conf && exec /usr/bin/python3 -c '${py}' "$@"`, 'sh', ...names], { timeoutMs: 60_000 });
  const ms = r.stdout.trim().split('\n').map(Number);
  if (r.code !== 0 || ms.length !== names.length || ms.some((x) => !Number.isFinite(x))) throw new Error(`getaddrinfo ${names.join(' ')}: ${r.stdout} ${r.stderr}`);
  return ms;
}

/** One process in the router namespace, timed around it; throws unless its output matches `expect`. */
async function timedProcess(lab: Lab, cmd: string, expect: RegExp): Promise<number> {
  const r = await lab.exec('router', ['bash', '-c', `s=$EPOCHREALTIME; out=$(${cmd}); e=$EPOCHREALTIME; echo "$out"; echo "T $s $e"`], { env: { DBUS_SYSTEM_BUS_ADDRESS: lab.routerBus } });
  const t = /T ([\d.]+) ([\d.]+)/.exec(r.stdout);
  if (!expect.test(r.stdout) || !t?.[1] || !t[2]) throw new Error(`${cmd}: ${r.stdout} ${r.stderr}`);
  return (Number(t[2]) - Number(t[1])) * 1000;
}

interface Walk {
  readonly srv: number;
  readonly txt: number;
  readonly total: number;
}

/** Browse → SRV + TXT of the first instance → A + AAAA of its host, through Unbound (router namespace). */
async function walk(lab: Lab, type: string): Promise<Walk> {
  const ask = async (name: string, qtype: string): Promise<{ data: string[]; ms: number }> => {
    const r = await lab.dns('router', { server: '127.0.0.1', port: 53, name, type: qtype, timeoutMs: 5000 });
    if (!r.ok) throw new Error(`${name} ${qtype}: ${r.error}`);
    return { data: r.msg.answers.filter((a) => a.type === qtype).map((a) => a.data), ms: r.ms };
  };
  const t0 = performance.now();
  const ptr = await ask(`${type}.local`, 'PTR');
  const instance = ptr.data[0];
  if (instance === undefined) throw new Error(`no instance of ${type}`);
  const [srv, txt] = await Promise.all([ask(instance, 'SRV'), ask(instance, 'TXT')]);
  const target = srv.data[0]?.split(' ')[3];
  if (target === undefined || txt.data.length === 0) throw new Error(`walk of ${type}: SRV ${srv.data.join()} TXT ${txt.data.join()}`);
  const [a] = await Promise.all([ask(target, 'A'), ask(target, 'AAAA')]);
  if (a.data.length === 0) throw new Error(`walk of ${type}: no A for ${target}`);
  return { srv: srv.ms, txt: txt.ms, total: performance.now() - t0 };
}

const lab = await createLab();
try {
  const sidecar = await startSidecar(lab, { config: { log: { level: 'warn' } } });
  await startRenderedUnbound(lab, sidecar, ['interface: 10.77.0.1', 'access-control: 10.77.0.0/24 allow']);
  // Fresh names: per sample one for the sidecar and one for the anchor, of each kind.
  const v4 = Array.from({ length: 2 * N }, (_, i) => ({ name: `only4-${i}.local`, ip: `10.77.0.${100 + i}` }));
  const dual = Array.from({ length: 2 * N }, (_, i) => ({ name: `dual-${i}.local`, ip: `10.77.0.${150 + i}`, ip6: `fd77::${(0x150 + i).toString(16)}` }));
  const walks = Array.from({ length: 2 * N }, (_, i) => ({ type: `_walk${i}._tcp`, host: `walkhost-${i}.local`, ip: `10.77.0.${200 + i}` }));
  if (2 * N > 40) throw new Error('cold-lookup-walk: at most 20 samples (address ranges)');
  const jobs = [
    ...v4.map((h) => () => lab.publishAddress(h.name, h.ip)),
    ...dual.flatMap((h) => [() => lab.publishAddress(h.name, h.ip), () => lab.publishAddress(h.name, h.ip6)]),
    ...walks.flatMap((w) => [() => lab.publishAddress(w.host, w.ip)]),
  ];
  for (let i = 0; i < jobs.length; i += 24) await Promise.all(jobs.slice(i, i + 24).map((j) => j()));
  for (let i = 0; i < walks.length; i += 24) {
    await Promise.all(walks.slice(i, i + 24).map((w, k) => lab.publishService(`walk-${i + k}`, w.type, 7000 + i + k, [`n=${i + k}`], { host: w.host })));
  }
  await lanGetaddrinfo(lab, [lab.lanHostName]); // warm-up: JIT, D-Bus connection, Unbound's first forward

  const s: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (s[k] ??= []).push(v);
  for (let i = 0; i < N; i++) {
    const a = v4[2 * i];
    const d = dual[2 * i];
    const w = walks[2 * i];
    const aa = v4[2 * i + 1];
    const da = dual[2 * i + 1];
    if (!a || !d || !w || !aa || !da) break;
    const [aCold, aWarm] = await lanGetaddrinfo(lab, [a.name, a.name]);
    const [dCold, dWarm] = await lanGetaddrinfo(lab, [d.name, d.name]);
    add('getaddrinfo A-only cold', aCold ?? NaN);
    add('getaddrinfo A-only warm', aWarm ?? NaN);
    add('getaddrinfo dual-stack cold', dCold ?? NaN);
    add('getaddrinfo dual-stack warm', dWarm ?? NaN);
    add('avahi-resolve -n A-only', await timedProcess(lab, `avahi-resolve -n ${aa.name}`, new RegExp(aa.ip.replace(/\./g, '\\.'))));
    add('avahi-resolve -n dual-stack', await timedProcess(lab, `avahi-resolve -n ${da.name}`, /\d/));
    const wk = await walk(lab, w.type);
    add('walk SRV cold', wk.srv);
    add('walk TXT cold', wk.txt);
    add('walk total cold', wk.total);
    const anchor = walks[2 * i + 1];
    if (anchor) add('avahi-browse -r -t', await timedProcess(lab, `avahi-browse -r -t -p ${anchor.type}`, /^=/m));
  }

  const targets: Record<string, number> = { 'getaddrinfo A-only cold': 300, 'getaddrinfo A-only warm': 20, 'walk SRV cold': 50, 'walk TXT cold': 50, 'walk total cold': 1500 };
  const result: Record<string, LatencySummary> = {};
  const rows = Object.entries(s).map(([k, v]) => {
    const sum = summarize(v);
    result[k] = sum;
    const target = targets[k];
    return [k, sum.n, sum.p50, sum.p99, target ?? '-', target === undefined ? '-' : sum.p50 <= target ? 'met' : 'MISSED'];
  });
  printTable('cold-lookup-walk: through Unbound → sidecar (avahi) → Avahi; anchors: avahi-resolve / avahi-browse -r', ['what', 'n', 'p50 ms', 'p99 ms', 'target p50 ms', ''], rows);
  const p50 = (k: string): number => result[k]?.p50 ?? Number.NaN;
  const file = writeResults(
    'cold-lookup-walk',
    { settings: { samples: N }, ...result },
    {
      'A-only AF_UNSPEC cold p50 ms': p50('getaddrinfo A-only cold'),
      'A-only AF_UNSPEC warm p50 ms': p50('getaddrinfo A-only warm'),
      'dual-stack AF_UNSPEC cold p50 ms': p50('getaddrinfo dual-stack cold'),
      'avahi-resolve p50 ms': p50('avahi-resolve -n A-only'),
      'SRV cold p50 ms': p50('walk SRV cold'),
      'TXT cold p50 ms': p50('walk TXT cold'),
      'walk cold p50 ms': p50('walk total cold'),
      'avahi-browse -r p50 ms': p50('avahi-browse -r -t'),
      'walk / avahi-browse -r': p50('walk total cold') / p50('avahi-browse -r -t'),
    },
  );
  console.log(`wrote ${file}`);
} finally {
  await lab.teardown();
}
