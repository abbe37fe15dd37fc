/**
 * What the LAN host publishes when a lab is created with `fixtures: true` (and what `npm run lab`
 * shows). Tests import these constants instead of repeating literals.
 */
export const LAN_V4 = { router: '10.77.0.1', lan: '10.77.0.2', prefix: 24 } as const;
export const LAN_V6 = { router: 'fd77::1', lan: 'fd77::2', prefix: 64 } as const;
/** The reverse zone of the lab LAN, as configured in the sidecar and Unbound. */
export const REVERSE_ZONE = '77.10.in-addr.arpa.';

export const FIXTURES = {
  /** A-only name published by the LAN host (`avahi-publish -a -R`). */
  printer: { name: 'printer.local', ipv4: '10.77.0.50' },
  /** One name with a global and a link-local AAAA: the fe80 one must never reach a unicast client. */
  dual: { name: 'dual.local', ipv6: 'fd77::50', linkLocal: 'fe80::50' },
  /** Two instances of one type, with TXT. */
  ipp: {
    type: '_ipp._tcp',
    instances: [
      { name: 'Printer One', port: 631, txt: ['txtvers=1', 'note=first'] },
      { name: 'Printer Two', port: 632, txt: ['txtvers=1', 'note=second'] },
    ],
  },
  /** A TXT record of ~3 KB: more than any EDNS UDP size a test advertises below 4096, and far more than 512. */
  big: {
    type: '_big._tcp',
    name: 'Big Service',
    port: 4242,
    txt: Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}=${'x'.repeat(240)}`),
  },
} as const;
