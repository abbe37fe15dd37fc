import type { LookupProvider, StatusSnapshot } from '../../src/http/status.js';
import { buildStatusSnapshot } from '../../src/http/status.js';

/**
 * A status with every state the page and the CLI must show — one list fine, one stale and failed,
 * a learned count, dnstap, a front whose UDP buffer was capped — and hostile text where config and the network put text: a list name
 * or error that is HTML or a terminal escape must come out as literal characters.
 */
export const XSS = '<img src=x onerror="window.__xss=1">';
const HOUR = 3_600_000;

/** The DNS front's status() as the wiring hands it over: inserting, its UDP receive buffer capped, some drops. */
export const FAKE_FRONT = {
  listen: ['10.77.0.1:53'],
  upstream: '127.0.0.1:5301',
  allow: ['10.77.0.0/24'],
  inflight: 0,
  tcpConnections: 0,
  notBound: [],
  insertion: { state: 'ok', deadlineMisses: 2, failOpen: 2, failClosed: 0 },
  udp: { receiveBufferBytes: 425_984, receiveBufferCapped: true, kernelDrops: { listener: 7, upstream: 0, unbound: 3 } },
} as const;

export function fakeStatus(now = Date.UTC(2025, 5, 1, 12, 0, 0)): StatusSnapshot {
  return buildStatusSnapshot({
    version: '0.1.0-test',
    startedAt: now - 30 * HOUR,
    now,
    mdns: { backend: 'avahi', up: true },
    dnstap: { connected: true, connections: 1, frames: 12345 },
    front: FAKE_FRONT,
    lists: [
      {
        name: 'ru-blocked',
        refreshMs: HOUR,
        lastSyncAt: now - 5 * 60_000,
        outcome: 'updated',
        lastSuccessAt: now - 5 * 60_000,
        sets: [
          { set: 'inet vpn force_vpn4', elements: 12_345 },
          { set: 'inet vpn force_vpn6', elements: 321 },
        ],
        learned: 42,
      },
      {
        name: `evil${XSS}`,
        refreshMs: HOUR,
        lastSyncAt: now - 10 * 60_000,
        outcome: 'failed',
        lastSuccessAt: now - 5 * HOUR,
        lastError: `HTTP 502 from mirror ${XSS}\u001b[2J`,
        sets: [],
      },
    ],
    errors: [
      { at: now - 60_000, level: 'error', source: 'blocklist', message: `blocklist: download failed: <script>window.__xss=2</script>` },
      { at: now - 120_000, level: 'warn', source: 'local-names', message: 'local-names: backend down, answering SERVFAIL until it returns' },
    ],
  });
}

export const fakeLookup: LookupProvider = async (q) => {
  const query = q.toLowerCase();
  if (query === 'example.org' || query.endsWith('.example.org')) {
    return {
      query,
      kind: 'domain',
      matches: [
        { list: 'ru-blocked', reason: 'domain example.org is listed by https://reestr.rublacklist.net/api/v3/domains/', set: 'inet vpn force_vpn4_learned', expiresAt: Date.UTC(2025, 5, 1, 13, 0, 0) },
        { list: 'ru-blocked', reason: `learned ${XSS}` },
      ],
    };
  }
  // Like the learner, the provider (not the HTTP layer) says what is not a name or an address.
  if (!/^[\p{L}\p{N}_.:-]+$/u.test(query) || query.includes('..')) return { query: q, kind: 'invalid', matches: [] };
  return { query, kind: query.includes(':') || /^\d/.test(query) ? 'ip' : 'domain', matches: [] };
};
