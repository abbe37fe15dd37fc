/**
 * The DNS front in the namespace lab without learning lists (a pure PROXYv2 relay: no nftables,
 * no authority): real Unbound in the router namespace on a proxy-protocol-port with static
 * answers, and the whole daemon with a `front` block. For front tests about sockets and
 * listeners (test/integration/front-slow-reader.test.ts, front-late-address.test.ts); the learning
 * path is test/lab/front-lab.ts.
 */
import { fileURLToPath } from 'node:url';
import type { Lab } from '../lab/lab.js';
import { type Sidecar, type SidecarOptions, startSidecar } from '../lab/sidecar.js';

export const FRONT_UPSTREAM = '127.0.0.1:5301';

/** `static` zone every answer comes from; Unbound has no other data and no upstream. */
export const STATIC_ZONE = 'front.test';

/**
 * Unbound on 127.0.0.1@5301 with `proxy-protocol-port` (Unbound ≥ 1.17), allowing the clients in
 * `allow` as carried in PROXYv2 (and the front itself on loopback: Unbound's default allows it).
 */
export async function startProxiedUnbound(lab: Lab, localData: readonly string[], allow: readonly string[]): Promise<void> {
  const [host, port] = FRONT_UPSTREAM.split(':') as [string, string];
  await lab.startUnbound({
    forwardZones: [],
    forwardTo: '',
    extraServer: [
      `interface: ${host}@${port}`,
      `proxy-protocol-port: ${port}`,
      ...allow.map((p) => `access-control: ${p} allow`),
      `local-zone: "${STATIC_ZONE}." static`,
      ...localData.map((d) => `local-data: '${d}'`),
    ],
  });
}

/** The daemon with this `front` block (upstream: the Unbound above) and nothing to learn. */
export function startFrontSidecar(lab: Lab, front: Readonly<Record<string, unknown>>, opts: Pick<SidecarOptions, 'readyWhen'> = {}): Promise<Sidecar> {
  return startSidecar(lab, { config: { front: { upstream: FRONT_UPSTREAM, ...front } }, ...opts });
}

/** `node [loader args] FILE` for a child script next to the calling test (built `.js` or `.ts` via a loader). */
export function childScript(from: string, name: string): string[] {
  const ext = from.endsWith('.ts') ? '.ts' : '.js';
  return [process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--test')), fileURLToPath(new URL(`./${name}${ext}`, from))];
}

/** Sets the namespace's TCP buffer sysctls (per network namespace since Linux 4.15): `min default max` bytes. */
export async function smallTcpBuffers(lab: Lab, ns: 'router' | 'lan', bytes: string): Promise<void> {
  await lab.exec(ns, ['sysctl', '-q', '-w', `net.ipv4.tcp_wmem=${bytes}`, `net.ipv4.tcp_rmem=${bytes}`]).then((r) => {
    if (r.code !== 0) throw new Error(`sysctl in ${ns}: ${r.stderr}`);
  });
}
