/**
 * A bare network namespace for nftables tests and benchmarks: no veth, no daemons, just a kernel
 * nftables instance of its own. Named like the lab's router namespaces (`us-r-<pid>-9<n>`) so the
 * lab's stale-namespace sweep also removes it if this process dies before teardown.
 */
import { ipSync, NetnsHost } from './netns.js';
import { deleteNetnsSync, installSignalCleanup, sweepStaleNamespaces, track } from './reaper.js';

let counter = 0;

export interface NftNetns {
  readonly name: string;
  readonly host: NetnsHost;
  /** `nft ARGS` inside the namespace; rejects with stderr on failure. */
  nft(args: readonly string[], input?: string): Promise<string>;
  teardown(): Promise<void>;
}

export function createNftNetns(): NftNetns {
  installSignalCleanup();
  sweepStaleNamespaces(['us-r', 'us-l']);
  const name = `us-r-${process.pid}-9${++counter}`;
  ipSync(['netns', 'add', name]);
  const host = new NetnsHost(name, 'router', 'lo', '127.0.0.1', '::1', '', name, '/tmp');
  const untrack = track({ sweepSync: () => deleteNetnsSync(name) });
  let down = false;
  return {
    name,
    host,
    nft: (args, input) => host.run(['nft', ...args], { timeoutMs: 600_000, ...(input !== undefined ? { input } : {}) }),
    async teardown() {
      if (down) return;
      down = true;
      await host.stopAll(500);
      deleteNetnsSync(name);
      untrack();
    },
  };
}
