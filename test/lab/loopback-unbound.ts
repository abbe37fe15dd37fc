import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An Unbound config for a test resolver on 127.0.0.1:PORT (no daemonizing, no chroot, no syslog),
 * checked with unbound-checkconf before it is used: `lines` go into `server:`, `extra` after it
 * (dnstap:, forward-zone:). Used by the dnstap and learner suites.
 */
export function loopbackUnboundConf(dir: string, port: number, lines: readonly string[], extra = ''): string {
  const conf = join(dir, `unbound-${port}.conf`);
  const base = [
    'interface: 127.0.0.1',
    `port: ${port}`,
    'do-daemonize: no',
    'username: ""',
    'chroot: ""',
    'pidfile: ""',
    'use-syslog: no',
    'logfile: ""',
    `directory: "${dir}"`,
    'num-threads: 1',
    'do-ip6: no',
    'verbosity: 1',
  ];
  writeFileSync(conf, `server:\n${[...base, ...lines].map((l) => `  ${l}`).join('\n')}\n${extra}`);
  const check = spawnSync('unbound-checkconf', [conf], { encoding: 'utf8' });
  assert.equal(check.status, 0, `unbound-checkconf ${conf}: ${check.stderr}${check.stdout}`);
  return conf;
}
