/** dnsperf inside a lab namespace, plus the CPU the server burned while it ran. */
import { readFileSync } from 'node:fs';
import type { NetnsHost } from '../test/lab/lab.js';
import { cpuTicks, stealShare } from './cpu-steal.js';

export interface DnsperfOptions {
  /** Default 127.0.0.1 (the namespace's own loopback). */
  readonly server?: string;
  readonly port: number;
  readonly dataFile: string;
  readonly seconds: number;
  /** Outstanding queries (-q). */
  readonly outstanding: number;
  /** Per-query timeout, s (-t). */
  readonly timeoutS?: number;
  /** Max qps (-Q); absent = as fast as possible. */
  readonly maxQps?: number;
  /** Pin dnsperf to this CPU (taskset -c). */
  readonly cpu?: number;
  /** dnsperf's socket send/receive buffers, KiB (-b); absent = the system default (~200 answers queued). */
  readonly bufferKB?: number;
}

/** Pins every thread of a running process to one CPU, so server and load generator do not share a core. */
export async function pinProcess(host: NetnsHost, pid: number | undefined, cpu: number): Promise<void> {
  if (pid === undefined) return;
  await host.run(['taskset', '-a', '-p', '-c', String(cpu), String(pid)]);
}

export interface DnsperfResult {
  readonly qps: number;
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly avgLatencyMs: number;
  readonly rcodes: string;
  /** dnsperf's "Run time (s)". */
  readonly runTimeS: number;
  /** Server CPU over the run, in cores (1.0 = one core busy the whole time). */
  readonly serverCpu: number | undefined;
  /** dnsperf's own CPU, in cores: near 1.0 means the load generator, not the server, was the limit. */
  readonly clientCpu: number | undefined;
  /** CPU of the process behind the server (Unbound behind the front), in cores, when one was given. */
  readonly behindCpu: number | undefined;
  /** Share of the machine's CPU time the hypervisor gave to other guests during the run (cpu-steal.ts). */
  readonly steal: number;
}

const CLK_TCK = 100; // USER_HZ on Linux: /proc/<pid>/stat counts in 1/100 s

/** utime + stime of a process and its already-reaped children, seconds. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime/stime are fields 14/15 → indexes 11/12.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export async function runDnsperf(host: NetnsHost, opts: DnsperfOptions, serverPid?: number, behindPid?: number): Promise<DnsperfResult> {
  const args = [
    'dnsperf',
    '-s',
    opts.server ?? '127.0.0.1',
    '-p',
    String(opts.port),
    '-d',
    opts.dataFile,
    '-c',
    '1',
    '-T',
    '1',
    '-l',
    String(opts.seconds),
    '-q',
    String(opts.outstanding),
    '-t',
    String(opts.timeoutS ?? 5),
    ...(opts.bufferKB === undefined ? [] : ['-b', String(opts.bufferKB)]),
    ...(opts.maxQps ? ['-Q', String(opts.maxQps)] : []),
  ];
  const cpu0 = cpuSeconds(serverPid);
  const behind0 = cpuSeconds(behindPid);
  const ticks0 = cpuTicks();
  // bash's `times` prints the CPU its children (dnsperf) used: user and system, on the second line.
  const script = 'dnsperf "$@"; rc=$?; times; exit $rc';
  const pin = opts.cpu === undefined ? [] : ['taskset', '-c', String(opts.cpu)];
  const r = await host.exec([...pin, 'bash', '-c', script, 'dnsperf', ...args.slice(1)], { timeoutMs: (opts.seconds + (opts.timeoutS ?? 5) + 30) * 1000 });
  const cpu1 = cpuSeconds(serverPid);
  const behind1 = cpuSeconds(behindPid);
  const steal = stealShare(ticks0, cpuTicks());
  if (r.code !== 0) throw new Error(`dnsperf failed (${r.code}): ${r.stderr}${r.stdout}`);
  const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? Number.NaN);
  const runTimeS = num(/Run time \(s\):\s+([\d.]+)/);
  const times = r.stdout.trim().split('\n').at(-1) ?? '';
  const clock = [...times.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
  return {
    runTimeS,
    clientCpu: times.includes('m') ? clock / runTimeS : undefined,
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    rcodes: /Response codes:\s+(.*)/.exec(r.stdout)?.[1]?.trim() ?? '',
    // Over dnsperf's own run time: the server idles during exec start-up and the final drain.
    serverCpu: cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / runTimeS,
    behindCpu: behind0 === undefined || behind1 === undefined ? undefined : (behind1 - behind0) / runTimeS,
    steal,
  };
}
