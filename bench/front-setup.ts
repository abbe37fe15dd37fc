/** What the front benches share: the prerequisite check, `--flag N` arguments, a process's memory. */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIRECT, type FrontLab, UPSTREAM } from '../test/lab/front-lab.js';
import { labMissing, sidecarMissing } from '../test/lab/prereqs.js';

/** Exits (0, or 1 with CI=true) when the lab cannot run here, saying why. */
export function requireFrontLab(bench: string, extra: Readonly<Record<string, string>> = {}): void {
  const missing = labMissing({ nft: 'nftables', ...extra }) ?? sidecarMissing();
  if (!missing) return;
  console.error(`${bench}: cannot run: ${missing}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

/** `--name N` from argv (as `npm run bench -- --names 300` passes it), else the env var, else `fallback`. */
export function argNumber(flag: string, env: string, fallback: number): number {
  const i = process.argv.indexOf(`--${flag}`);
  const v = Number(i >= 0 ? process.argv[i + 1] : process.env[env]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/**
 * `--no-udp-batching` (or BENCH_UDP_BATCHING=0): run the front with `front.udpBatching: false`,
 * dgram's one-syscall-per-datagram path, to compare with the default. BENCH_BUSY_POLL_US: the
 * front's `busyPollMicros` (0 = sleep while waiting for Unbound), to compare with the default.
 * BENCH_UDP_SEGMENTATION=0: `front.udpSegmentation: false` (one datagram per query to Unbound).
 */
export function frontOverrides(): { udpBatching: boolean; udpSegmentation: boolean; busyPollMicros?: number } {
  const busy = process.env.BENCH_BUSY_POLL_US;
  return {
    udpBatching: !(process.argv.includes('--no-udp-batching') || process.env.BENCH_UDP_BATCHING === '0'),
    udpSegmentation: process.env.BENCH_UDP_SEGMENTATION !== '0',
    ...(busy !== undefined && busy !== '' ? { busyPollMicros: Number(busy) } : {}),
  };
}

/** VmRSS and VmHWM (peak) of a process, MB. */
export function processMemoryMB(pid: number | undefined): { rss: number; peak: number } {
  if (pid === undefined) return { rss: Number.NaN, peak: Number.NaN };
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** A bench of the front needs the front: fail at once, not after thousands of timeouts. */
export async function requireFrontAnswers(bench: string, fl: FrontLab): Promise<void> {
  const r = await fl.ask('front', { name: 'direct.example', type: 'A', timeoutMs: 2000 });
  if (r.ok && r.msg.rcode === 'NOERROR') return;
  await fl.teardown();
  console.error(`${bench}: the front does not answer on 10.77.0.1:53 (${r.ok ? r.msg.rcode : r.error}); see the sidecar log`);
  process.exit(1);
}

/** Where the bare relay listens in the router namespace. */
export const BARE = { server: '10.77.0.1', port: 5399 } as const;

/**
 * The floor for any relay written in Node on this machine: a bare UDP relay (one connected
 * upstream socket, an ID map, no PROXYv2, no parsing, no learning, no batching) on BARE in front of
 * Unbound's plain port (the anchor's). What it costs is the cost of the extra hop itself — two more
 * datagrams each way through the kernel and two more process wake-ups per query; what the front
 * costs beyond it is the front's own work.
 */
const BARE_RELAY = `
import { createSocket } from 'node:dgram';
const up = createSocket('udp4');
const down = createSocket('udp4');
const waiting = new Map();
up.on('message', (m) => { const c = waiting.get(m.readUInt16BE(0)); if (c) { waiting.delete(m.readUInt16BE(0)); down.send(m, c.port, c.address); } });
down.on('message', (m, r) => { waiting.set(m.readUInt16BE(0), r); up.send(m); });
up.connect(${DIRECT.port}, '${DIRECT.server}', () => down.bind(${BARE.port}, '${BARE.server}', () => console.log('ready')));
`;

/** Starts the bare relay in the lab's router namespace; resolves once it listens. */
export async function startBareRelay(fl: FrontLab): Promise<ChildProcess> {
  const relay = fl.lab.spawnIn('router', [process.execPath, '--input-type=module', '-e', BARE_RELAY]);
  await new Promise<void>((resolve, reject) => {
    relay.stdout?.once('data', () => resolve());
    relay.once('exit', (code) => reject(new Error(`bare relay exited ${code}`)));
  });
  return relay;
}

/** Where the reference relay (dnsdist) listens in the router namespace. */
export const DNSDIST = { server: '10.77.0.1', port: 5302 } as const;

/**
 * A well-built relay in C++ as a second reference for what the extra hop costs on this machine:
 * dnsdist (Debian's package) on DNSDIST before the same Unbound proxy-protocol port the front uses,
 * with PROXYv2 (`useProxyProtocol`), recvmmsg/sendmmsg vectors of 64 (its throughput knob,
 * `setUDPMultipleMessagesVectorSize`), no packet cache and no health checks (the backend is set up
 * by hand: there is no internet to check against). Its own design: one listener thread and one
 * responder thread per backend. Undefined when dnsdist is not installed (the bench says so).
 */
export async function startDnsdist(fl: FrontLab): Promise<ChildProcess | undefined> {
  try {
    execFileSync('dnsdist', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const conf = join(fl.lab.dir, 'dnsdist.conf');
  writeFileSync(
    conf,
    [
      `setLocal("${DNSDIST.server}:${DNSDIST.port}")`,
      'setACL({"10.77.0.0/16"})',
      'setUDPMultipleMessagesVectorSize(64)',
      'setSecurityPollSuffix("")',
      `newServer({address="${UPSTREAM}", useProxyProtocol=true, checkInterval=3600})`,
      'getServer(0):setUp()',
      '',
    ].join('\n'),
  );
  const child = fl.lab.spawnIn('router', ['dnsdist', '--supervised', '--disable-syslog', '-C', conf], undefined, 'dnsdist');
  for (let i = 0; i < 100; i++) {
    const r = await fl.lab.dns('lan', { ...DNSDIST, timeoutMs: 500, name: 'direct.example', type: 'A' });
    if (r.ok && r.msg.rcode === 'NOERROR') return child;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`dnsdist did not answer on ${DNSDIST.server}:${DNSDIST.port} (see ${join(fl.lab.dir, 'dnsdist.log')})`);
}
