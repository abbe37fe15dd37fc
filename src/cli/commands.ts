import { loadConfig, type Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { formatRecord } from '../lib/dns-wire/presentation.js';
import { parseTypeName, RRClass } from '../lib/dns-wire/types.js';
import { createCliLogger } from '../lib/log/logger.js';
import { Registry } from 'prom-client';
import { createLocalNames } from '../local-names/index.js';
import { renderUnboundSnippet } from './render-unbound.js';

/** Each command returns its exit code; main.ts maps thrown SidecarErrors to 2 with the message. */

export async function checkConfigCommand(file: string): Promise<number> {
  const config = await loadConfig(file);
  process.stdout.write(`${file}: OK (zones ${config.dns.zones.join(', ')}; listen ${config.dns.listen.join(', ')}; backend ${config.mdns.backend})\n`);
  return 0;
}

export async function renderCommand(what: string | undefined, file: string | undefined): Promise<number> {
  if (what !== 'unbound') {
    process.stderr.write('render: what to render? Try `unbound-sidecar render unbound --config FILE`.\n');
    return 2;
  }
  process.stdout.write(renderUnboundSnippet(await loadConfig(file)));
  return 0;
}

/** `resolve NAME [TYPE]`: zone-file lines through the configured backend; exit 1 on NXDOMAIN, 2 on SERVFAIL. */
export async function resolveCommand(name: string, typeText: string, file: string | undefined): Promise<number> {
  const type = parseTypeName(typeText);
  if (type === undefined) {
    process.stderr.write(`resolve: unknown record type "${typeText}" (use A, AAAA, PTR, SRV, TXT, … or TYPE<n>)\n`);
    return 2;
  }
  const config: Config = await loadConfig(file);
  const logger = createCliLogger();
  const localNames = await createLocalNames({ config: config.mdns, logger, registry: new Registry() });
  try {
    // The backend connects in the background; give it a moment so a one-shot CLI call does not race it.
    const deadline = Date.now() + 2000;
    while (!localNames.status().up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const fqdn = name.endsWith('.') ? name : `${name}.`;
    const answer = await localNames.resolve({ name: fqdn, type, class: RRClass.IN });
    switch (answer.kind) {
      case 'answer':
        for (const rr of answer.records) process.stdout.write(`${formatRecord(rr)}\n`);
        return 0;
      case 'nodata':
        process.stdout.write(`; ${fqdn} exists but has no ${typeText.toUpperCase()} records (NODATA)\n`);
        return 0;
      case 'nxdomain':
        process.stdout.write(`; ${fqdn}: NXDOMAIN (nothing answered within ${config.mdns.timeoutMs} ms)\n`);
        return 1;
      case 'servfail':
        process.stderr.write(
          `resolve: SERVFAIL: ${answer.reason} (with the Avahi backend: is avahi-daemon running? \`systemctl status avahi-daemon\`; with native: is a LAN interface up? see mdns.interfaces)\n`,
        );
        return 2;
      default: {
        const never: never = answer;
        return never;
      }
    }
  } catch (err) {
    process.stderr.write(`resolve: ${errorMessage(err)}\n`);
    return 2;
  } finally {
    await localNames.close();
  }
}
