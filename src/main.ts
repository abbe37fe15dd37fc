#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errorMessage, isSidecarError, SidecarError } from './errors.js';
import { ComponentStartError } from './lib/component/index.js';

// Commands are imported when chosen: `--help` must not load D-Bus, DNS and metrics code.
const USAGE = `unbound-sidecar — .local answers for Unbound (Avahi or mDNS), registry lists → nftables sets, metrics

Usage:
  unbound-sidecar run [--config FILE] [--listen HOST:PORT]... [--metrics HOST:PORT]
      the daemon; --listen replaces dns.listen, --metrics replaces metrics.listen
  unbound-sidecar check-config FILE
      validates FILE; exit 2 naming the JSON path of each bad field
  unbound-sidecar resolve NAME [TYPE] [--config FILE]
      zone-file lines from the mDNS backend; exit 1 on NXDOMAIN, 2 on SERVFAIL
  unbound-sidecar render unbound [--config FILE]
      the unbound.conf snippet for the configured zones
  unbound-sidecar sync [--config FILE] [--list NAME] [--dry-run]
      downloads the lists and syncs the nftables sets once; exit 1 when a list kept old data or failed
  unbound-sidecar domains add|remove|list LIST [NAME] [--config FILE]
      runtime additions to a list, through the running daemon's admin.socket
  unbound-sidecar lookup NAME|IP [--config FILE] [--json]
      which list matches, which set holds it, until when; exit 1 when nothing does
  unbound-sidecar status [--config FILE] [--metrics HOST:PORT] [--json]
      the running daemon's health; exit 1 unhealthy, 3 unreachable
  unbound-sidecar --help | --version

-c is short for --config. Without --config every setting has its default: DNS on 127.0.0.1:5335
for "local.", metrics on 127.0.0.1:9335, .local answers through Avahi on the system bus
(DBUS_SYSTEM_BUS_ADDRESS selects another) or, without Avahi, multicast DNS from this host.
Docs: README.md; config keys: config/example.json.
`;

function version(): string {
  // dist/src/main.js (installed) has package.json two levels up, src/main.ts (tsx) one; `run` passes
  // it to the status page, so a missing file must not stop the daemon.
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'unbound-sidecar' && 'version' in pkg) return String(pkg.version);
    } catch {
      /* try the next location */
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string', multiple: true },
      metrics: { type: 'string' },
      list: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'run':
      return (await import('./cli/run.js')).runCommand({ file: values.config, listen: values.listen, metrics: values.metrics, version: version() });
    case 'check-config': {
      const file = rest[0] ?? values.config;
      if (file === undefined) throw usage('check-config needs a FILE');
      return (await import('./cli/commands.js')).checkConfigCommand(file);
    }
    case 'resolve': {
      const [name, type = 'A'] = rest;
      if (name === undefined) throw usage('resolve needs a NAME, e.g. `unbound-sidecar resolve printer.local A`');
      return (await import('./cli/commands.js')).resolveCommand(name, type, values.config);
    }
    case 'domains':
      return (await import('./cli/domains.js')).domainsCommand({ args: rest, socket: await adminSocket(values.config) });
    case 'lookup':
      return (await import('./cli/lookup.js')).lookupCommand({ args: rest, socket: await adminSocket(values.config), json: values.json === true });
    case 'sync':
      return (await import('./cli/sync.js')).syncCommand({ file: values.config, list: values.list, dryRun: values['dry-run'] === true });
    case 'status': {
      const { statusCommand, metricsBaseUrl } = await import('./cli/status.js');
      return statusCommand({ file: values.config, json: values.json === true, ...(values.metrics ? { metricsUrl: metricsBaseUrl(values.metrics) } : {}) });
    }
    case 'render':
      return (await import('./cli/commands.js')).renderCommand(rest[0], values.config);
    default:
      throw usage(`unknown command "${command}"`);
  }
}

/** The admin API socket of the running daemon (`admin.socket` in the config). */
async function adminSocket(file: string | undefined): Promise<string> {
  return (await (await import('./config/index.js')).loadConfig(file)).admin.socket;
}

function usage(message: string): SidecarError {
  return new SidecarError('USAGE', 'cli', message);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (thrown: unknown) => {
    // A component that fails to start (`run`: a port in use) is rethrown naming the component; the
    // SidecarError inside already names its capability and carries the code scripts branch on.
    const err = thrown instanceof ComponentStartError && isSidecarError(thrown.cause) ? thrown.cause : thrown;
    if (isSidecarError(err, 'USAGE') || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`unbound-sidecar: ${errorMessage(err)}\nRun \`unbound-sidecar --help\` for usage.\n`);
      process.exitCode = 2;
    } else if (isSidecarError(err)) {
      process.stderr.write(`unbound-sidecar: ${err.message} [${err.code}]\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`unbound-sidecar: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
