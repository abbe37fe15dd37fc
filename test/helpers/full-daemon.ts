import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon } from '../../src/daemon.js';
import { startFakeUpstream } from '../dns-front/fake-upstream.js';

/**
 * Every capability's metrics, from a daemon with all of them on: lists with nft and learned sets
 * (blocklist, set-sync, learner) and the front. The source is a closed loopback port whose first
 * download is after the test, the front's upstream a fake on loopback: nothing leaves the machine
 * and nftables is not touched.
 */
export async function fullDaemonMetrics(): Promise<Awaited<ReturnType<Registry['getMetricsAsJSON']>>> {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const stateDir = mkdtempSync(join(tmpdir(), 'us-capmetrics-'));
  const up = await startFakeUpstream();
  const config = parseConfig({
    dns: { listen: ['127.0.0.1:0'], zones: ['local.'] },
    metrics: { listen: '127.0.0.1:0' },
    mdns: { backend: 'avahi' },
    stateDir,
    lists: [{ name: 'caps', sources: [{ url: 'http://127.0.0.1:9/list.json', format: 'json', contains: 'ips' }], nft: { table: 'sidecar_caps', set4: 'v4' }, learn: { set4: 'learned4' } }],
    resolve: { enabled: false },
    admin: { socket: join(stateDir, 'admin.sock') },
    front: { listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${up.port}` },
  });
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  try {
    return await daemon.registry.getMetricsAsJSON();
  } finally {
    await daemon.stop();
    await up.close();
    rmSync(stateDir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
}
