/**
 * The one place that decides whether a lab test may run. Outside CI a missing prerequisite (not
 * root, a binary missing, the daemon not built) skips the test with the reason; with CI=true it
 * fails it, so a misconfigured runner can never turn the integration suite green by skipping it.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import { SYSTEM_CONF } from './dbus.js';

/** Binaries the lab drives, with the Debian package that ships each. */
export const LAB_BINARIES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  unshare: 'util-linux',
  'dbus-daemon': 'dbus',
  'dbus-send': 'dbus',
  'avahi-daemon': 'avahi-daemon',
  'avahi-publish': 'avahi-utils',
  'avahi-resolve': 'avahi-utils',
  unbound: 'unbound',
  'unbound-checkconf': 'unbound',
  kdig: 'knot-dnsutils',
};

const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...PATH_DIRS];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Why the lab cannot run here, or undefined when it can. */
export function labMissing(extraBinaries: Readonly<Record<string, string>> = {}): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, veth, mounts)';
  const missing = Object.entries({ ...LAB_BINARIES, ...extraBinaries })
    .filter(([bin]) => findBinary(bin) === undefined)
    .map(([bin, pkg]) => `${bin} (${pkg})`);
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  if (!existsSync(SYSTEM_CONF)) return `missing ${SYSTEM_CONF} (dbus)`;
  return undefined;
}

/** The built daemon entry point, `dist/src/main.js`. */
export function sidecarEntry(): string {
  return join(repoRoot(), 'dist', 'src', 'main.js');
}

export function sidecarMissing(): string | undefined {
  const entry = sidecarEntry();
  return existsSync(entry) ? undefined : `${entry} is not built (npx tsc -p .)`;
}

export const inCI = (): boolean => process.env.CI === 'true';

/** What node:test's TestContext offers that we use (kept structural so suites can pass theirs). */
export interface Skippable {
  skip(message?: string): void;
}

/**
 * `if (!requireLab(t)) return;` at the top of a lab test. Skips with the reason outside CI;
 * throws (fails the test) in CI. `needs` adds the daemon build and extra binaries.
 */
export function requireLab(t: Skippable, needs: { sidecar?: boolean; binaries?: Readonly<Record<string, string>> } = {}): boolean {
  const reason = labMissing(needs.binaries) ?? (needs.sidecar ? sidecarMissing() : undefined);
  if (reason === undefined) return true;
  if (inCI()) throw new Error(`lab prerequisite missing in CI: ${reason}`);
  t.skip(reason);
  return false;
}

/**
 * For `describe(name, { skip: labSkip() }, …)` / `before` hooks: the skip reason, or false.
 * In CI it throws instead, failing the suite.
 */
export function labSkip(needs: { sidecar?: boolean; binaries?: Readonly<Record<string, string>> } = {}): string | false {
  const reason = labMissing(needs.binaries) ?? (needs.sidecar ? sidecarMissing() : undefined);
  if (reason === undefined) return false;
  if (inCI()) throw new Error(`lab prerequisite missing in CI: ${reason}`);
  return reason;
}
