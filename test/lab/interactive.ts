/**
 * `npm run lab`: brings the lab up with the fixtures, Unbound and (when built) the sidecar, prints
 * commands to try, and tears everything down on Ctrl-C. `--no-sidecar` leaves port 5335 free for
 * a sidecar you run yourself (the printed command shows how).
 */
import { createLab } from './lab.js';
import { FIXTURES, REVERSE_ZONE } from './fixtures.js';
import { labMissing, sidecarEntry, sidecarMissing } from './prereqs.js';
import { startSidecar } from './sidecar.js';

const missing = labMissing();
if (missing) {
  console.error(`lab: cannot start: ${missing}`);
  process.exit(1);
}

const wantSidecar = !process.argv.includes('--no-sidecar');
const lab = await createLab({ fixtures: true, handleSignals: false, keepDir: process.argv.includes('--keep') });
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log('\ntearing the lab down…');
  await lab.teardown();
  console.log(process.argv.includes('--keep') ? `done; logs kept in ${lab.dir}` : 'done');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  await lab.startUnbound({ forwardZones: ['local.', REVERSE_ZONE], forwardTo: '127.0.0.1@5335', port: 53 });
  let sidecarNote: string;
  if (wantSidecar && sidecarMissing() === undefined) {
    await startSidecar(lab);
    sidecarNote = `sidecar running: log ${lab.dir}/router/sidecar.log, config ${lab.dir}/router/sidecar.json`;
  } else {
    sidecarNote = [
      wantSidecar ? `sidecar not started: ${sidecarMissing() ?? ''}` : 'sidecar not started (--no-sidecar); run it yourself:',
      `  ip netns exec ${lab.router.name} env DBUS_SYSTEM_BUS_ADDRESS=${lab.routerBus} node ${sidecarEntry()} run --listen 127.0.0.1:5335 --metrics 127.0.0.1:9335`,
    ].join('\n');
  }
  const r = `ip netns exec ${lab.router.name}`;
  const first = FIXTURES.ipp.instances[0]?.name.replace(/ /g, '\\032') ?? '';
  console.log(`
lab ${lab.id} is up (dir ${lab.dir})
  router ns ${lab.router.name}: ${lab.routerIp} ${lab.routerIp6}, avahi host ${lab.routerHostName}, bus ${lab.routerBus}
  lan ns    ${lab.lan.name}: ${lab.lanIp} ${lab.lanIp6}, avahi host ${lab.lanHostName}, bus ${lab.lanBus}
  unbound   127.0.0.1:53 in the router ns, forwarding local. and ${REVERSE_ZONE} to 127.0.0.1@5335
  ${sidecarNote}

Try (through Unbound):
  ${r} kdig @127.0.0.1 ${FIXTURES.printer.name} A
  ${r} kdig @127.0.0.1 ${lab.lanHostName} AAAA
  ${r} kdig @127.0.0.1 ${FIXTURES.dual.name} AAAA          # fe80::50 must not appear
  ${r} kdig @127.0.0.1 ${FIXTURES.ipp.type}.local PTR
  ${r} kdig @127.0.0.1 '${first}.${FIXTURES.ipp.type}.local' SRV
  ${r} kdig @127.0.0.1 '${first}.${FIXTURES.ipp.type}.local' TXT
  ${r} kdig @127.0.0.1 _services._dns-sd._udp.local PTR
  ${r} kdig @127.0.0.1 -x ${lab.lanIp}
  ${r} kdig @127.0.0.1 nothing-here.local A          # NXDOMAIN + SOA after ~1 s, then cached
Direct to the sidecar:
  ${r} kdig @127.0.0.1 -p 5335 example.com A          # REFUSED
  ${r} kdig @127.0.0.1 -p 5335 +tcp PrInTeR.LoCaL A
  ${r} kdig @127.0.0.1 -p 5335 +bufsize=512 '${FIXTURES.big.name.replace(/ /g, '\\032')}.${FIXTURES.big.type}.local' TXT   # TC=1
  ${r} curl -s 127.0.0.1:9335/metrics   # if curl is installed
Avahi on the router (as the sidecar sees it):
  ${r} env DBUS_SYSTEM_BUS_ADDRESS=${lab.routerBus} avahi-browse -art
  ${r} env DBUS_SYSTEM_BUS_ADDRESS=${lab.routerBus} avahi-resolve -n ${FIXTURES.printer.name}
A shell inside the router namespace:
  ${r} env DBUS_SYSTEM_BUS_ADDRESS=${lab.routerBus} bash

Ctrl-C tears everything down.`);
} catch (err) {
  console.error(err);
  await stop();
}
