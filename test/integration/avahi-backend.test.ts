/**
 * The Avahi backend against the real avahi-daemon of the lab's router namespace, over that
 * namespace's own system bus (a unix socket: reachable from the root namespace, where this runs).
 * The LAN host publishes FIXTURES with avahi-publish; the router's Avahi sees them over the veth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { callOnBus, waitForHello } from '../../src/lib/avahi/bus-call.js';
import { createAvahiBackend, isAvahiPresent } from '../../src/local-names/avahi-backend.js';
import type { AvahiBackend, AvahiLookupOutcome } from '../../src/local-names/avahi-backend.js';
import type { BackendQuery, BackendResult } from '../../src/local-names/resolver.js';
import { sessionBus } from '@particle/dbus-next';
import { startBus } from '../lab/dbus.js';
import { FIXTURES } from '../lab/fixtures.js';
import { createLab, type Lab } from '../lab/lab.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const logger = pino({ level: process.env.AVAHI_TEST_LOG ?? 'silent' });
const [ONE, TWO] = FIXTURES.ipp.instances;
const A = 1,
  PTR = 12,
  TXT = 16,
  AAAA = 28,
  SRV = 33;

let lab: Lab;
let backend: AvahiBackend;
const outcomes = new Map<AvahiLookupOutcome, number>();

const ask = (name: string, type: number, over: Partial<BackendQuery> = {}): Promise<BackendResult> =>
  backend.lookup({ name, type, mode: type === A || type === AAAA ? 'first' : 'collect', timeoutMs: 1000, windowMs: 1500, ...over });

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t };
}

// --- rdata decoding (Avahi serializes names uncompressed, RFC 1035 §3.1) ---
function readName(b: Uint8Array, at = 0): { name: string; end: number } {
  const labels: string[] = [];
  let i = at;
  for (let len = b[i] ?? 0; len !== 0; len = b[i] ?? 0) {
    labels.push(Buffer.from(b.subarray(i + 1, i + 1 + len)).toString('utf8'));
    i += 1 + len;
  }
  return { name: `${labels.join('.')}.`, end: i + 1 };
}
const txtStrings = (b: Uint8Array): string[] => {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 1 + (b[i] ?? 0)) out.push(Buffer.from(b.subarray(i + 1, i + 1 + (b[i] ?? 0))).toString('utf8'));
  return out;
};
const ipv4 = (b: Uint8Array): string => [...b].join('.');
const ipv6 = (b: Uint8Array): string => {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
};
function records(r: BackendResult): { type: number; data: Uint8Array; name: string; ttl: number; class: number }[] {
  assert.equal(r.kind, 'records', `expected records, got ${JSON.stringify(r)}`);
  return r.kind === 'records' ? [...r.records] : [];
}

/** Polls until `q` yields records: the router's Avahi may need one mDNS round to learn a name. */
async function eventually(q: () => Promise<BackendResult>, timeoutMs = 8000): Promise<BackendResult> {
  return waitFor(
    'records',
    async () => {
      const r = await q();
      return r.kind === 'records' ? r : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Our connection's match rules as dbus-daemon counts them (org.freedesktop.DBus.Debug.Stats). */
async function matchRules(uniqueName: string): Promise<{ now: number; peak: number }> {
  const bus = sessionBus({ busAddress: lab.routerBus });
  bus.on('error', () => {});
  try {
    await waitForHello(bus, 2000);
    const [stats] = await callOnBus(
      bus,
      {
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        iface: 'org.freedesktop.DBus.Debug.Stats',
        member: 'GetConnectionStats',
        signature: 's',
        body: [uniqueName],
      },
      2000,
    );
    const field = (k: string): number => {
      const v: unknown = (stats as Record<string, { value?: unknown }> | undefined)?.[k]?.value;
      return typeof v === 'number' ? v : -1;
    };
    return { now: field('MatchRules'), peak: field('PeakMatchRules') };
  } finally {
    bus.disconnect();
  }
}

describe('Avahi backend over D-Bus (real avahi-daemon in the lab)', { skip: labSkip(), timeout: 180_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    backend = await createAvahiBackend({
      logger,
      ttl: 120,
      busAddress: lab.routerBus,
      onLookup: (o) => outcomes.set(o, (outcomes.get(o) ?? 0) + 1),
    });
  });
  after(async () => {
    await backend?.close();
    await lab?.teardown();
  });

  test('is up, and isAvahiPresent sees the name', async () => {
    assert.equal(backend.isUp(), true);
    assert.equal(await isAvahiPresent(lab.routerBus), true);
  });

  test('A of a published host: first answer, fast once cached', async () => {
    await eventually(() => ask(`${FIXTURES.printer.name}.`, A));
    const { value, ms } = await timed(ask(`${FIXTURES.printer.name}.`, A));
    const rrs = records(value);
    assert.deepEqual(
      rrs.map((r) => ipv4(r.data)),
      [FIXTURES.printer.ipv4],
    );
    assert.deepEqual(
      rrs.map((r) => [r.name, r.type, r.class, r.ttl]),
      [[`${FIXTURES.printer.name}.`, A, 1, 120]],
    );
    assert.ok(ms < 100, `cached A took ${ms.toFixed(1)} ms`);
  });

  test('AAAA: the global and the link-local address (policy above drops fe80)', async () => {
    const r = await eventually(() => ask(`${FIXTURES.dual.name}.`, AAAA, { mode: 'collect' }));
    assert.deepEqual(
      records(r)
        .map((x) => ipv6(x.data))
        .sort(),
      [FIXTURES.dual.ipv6, FIXTURES.dual.linkLocal].sort(),
    );
    const first = await ask(`${FIXTURES.dual.name}.`, AAAA);
    assert.ok(records(first).length >= 1);
  });

  test('PTR browse of _ipp._tcp returns both instances', async () => {
    const r = await eventually(() => ask('_ipp._tcp.local.', PTR));
    const names = records(r)
      .map((x) => readName(x.data).name)
      .sort();
    assert.deepEqual(names, [`${ONE?.name}._ipp._tcp.local.`, `${TWO?.name}._ipp._tcp.local.`].sort());
  });

  test('SRV and TXT of an instance decode to its port, target and TXT strings', async () => {
    const instance = `${ONE?.name}._ipp._tcp.local.`.toLowerCase();
    const srv = records(await eventually(() => ask(instance, SRV)));
    assert.equal(srv.length, 1);
    const b = srv[0]?.data ?? new Uint8Array();
    assert.equal((b[4] ?? 0) * 256 + (b[5] ?? 0), ONE?.port);
    assert.equal(readName(b, 6).name, `${lab.lanHostName}.`);
    const txt = records(await eventually(() => ask(instance, TXT)));
    assert.deepEqual(txtStrings(txt[0]?.data ?? new Uint8Array()), ONE?.txt);
  });

  test('service-type enumeration: _services._dns-sd._udp.local PTR', async () => {
    const r = await eventually(() => ask('_services._dns-sd._udp.local.', PTR));
    const types = records(r).map((x) => readName(x.data).name);
    assert.ok(types.includes('_ipp._tcp.local.'), types.join(' '));
  });

  test('reverse PTR of the LAN host address', async () => {
    const r = await eventually(() => ask('2.0.77.10.in-addr.arpa.', PTR));
    assert.deepEqual(
      records(r).map((x) => readName(x.data).name),
      [`${lab.lanHostName}.`],
    );
  });

  test('a name nobody has is none after about timeoutMs', async () => {
    const before = outcomes.get('timeout') ?? 0;
    const { value, ms } = await timed(ask(`nobody-${process.pid}.local.`, A, { timeoutMs: 400 }));
    assert.deepEqual(value, { kind: 'none' });
    assert.ok(ms >= 390 && ms < 600, `took ${ms.toFixed(0)} ms`);
    assert.equal(outcomes.get('timeout'), before + 1);
  });

  for (const useServer2 of [true, false]) {
    test(`1500 sequential lookups leak no match rules, browsers or router entries (${useServer2 ? 'Server2' : 'RecordBrowserNew'})`, async () => {
      const be = useServer2 ? backend : await createAvahiBackend({ logger, ttl: 120, busAddress: lab.routerBus, useServer2: false });
      try {
        let ok = 0;
        for (let i = 0; i < 1500; i++) {
          // Every 100th lookup times out (browser freed after the deadline), the rest hit the cache.
          const miss = i % 100 === 99;
          const r = await be.lookup({ name: miss ? `miss-${i}.local.` : `${FIXTURES.printer.name}.`, type: A, mode: 'first', timeoutMs: miss ? 30 : 1000, windowMs: 1000 });
          if (r.kind === (miss ? 'none' : 'records')) ok++;
        }
        // Avahi caps objects per client (objects-per-client-max, 1024 by default in 0.8): without
        // Free, lookups past that fail with TooManyObjects, so 1500 successes also prove Free works.
        assert.equal(ok, 1500);
        const st = be.debugState();
        assert.equal(st.subscribed, 0);
        assert.ok(st.busName !== undefined);
        const rules = await matchRules(st.busName);
        assert.deepEqual(rules, { now: 2, peak: 2 }, 'exactly the owner watch and the RecordBrowser rule');
      } finally {
        if (be !== backend) await be.close();
      }
    });
  }

  test('avahi-daemon killed: unavailable within 100 ms, down, then up again after restart', async () => {
    const states: boolean[] = [];
    const unsubscribe = backend.onStateChange((up) => states.push(up));
    try {
      const busNameBefore = backend.debugState().busName;
      // A lookup that would wait 5 s is in flight when Avahi dies.
      const inflight = timed(ask(`pending-${process.pid}.local.`, A, { timeoutMs: 5000 }));
      await new Promise((r) => setTimeout(r, 50));
      let downAt = 0;
      const wentDown = new Promise<void>((res) => {
        const un = backend.onStateChange((up) => {
          if (!up) {
            downAt = performance.now();
            un();
            res();
          }
        });
      });
      const stopping = lab.stopRouterAvahi('SIGKILL');
      await wentDown;
      const pending = await inflight;
      assert.equal(pending.value.kind, 'unavailable');
      assert.ok(performance.now() - downAt < 100, 'the in-flight lookup settled with the down event');
      assert.equal(backend.isUp(), false);
      const fresh = await timed(ask(`${FIXTURES.printer.name}.`, A));
      assert.equal(fresh.value.kind, 'unavailable');
      assert.ok(fresh.ms < 100, `lookup while down took ${fresh.ms.toFixed(1)} ms`);
      await stopping;

      // A backend created while Avahi is absent starts (down) and comes up with it.
      const late = await createAvahiBackend({ logger, ttl: 120, busAddress: lab.routerBus, settleMs: 3000 });
      try {
        assert.equal(late.isUp(), false);
        assert.equal(await isAvahiPresent(lab.routerBus), false);
        const lateBusName = late.debugState().busName;
        assert.ok(lateBusName !== undefined, 'connected to the bus even though Avahi is absent');
        await lab.startRouterAvahi();
        await waitFor('backends up again', () => backend.isUp() && late.isUp(), { timeoutMs: 5000 });
        // Avahi's return is seen through NameOwnerChanged on the same connection, not by reconnecting.
        assert.equal(late.debugState().busName, lateBusName);
        assert.equal(backend.debugState().busName, busNameBefore);
        const again = await eventually(() => ask(`${FIXTURES.printer.name}.`, A, { timeoutMs: 2000 }), 10_000);
        assert.deepEqual(
          records(again).map((r) => ipv4(r.data)),
          [FIXTURES.printer.ipv4],
        );
        assert.equal((await late.lookup({ name: `${FIXTURES.printer.name}.`, type: A, mode: 'first', timeoutMs: 2000, windowMs: 2000 })).kind, 'records');
      } finally {
        await late.close();
      }
      assert.deepEqual(states, [false, true]);
    } finally {
      unsubscribe();
    }
  });

  test('the system bus itself dies and returns: down at once, reconnects with backoff', async () => {
    const conf = `${lab.router.logDir}/bus.conf`;
    const pgrep = await lab.exec('router', ['pgrep', '-f', `dbus-daemon --config-file=${conf}`]);
    const pids = pgrep.stdout.split(/\s+/).filter(Boolean).map(Number);
    assert.ok(pids.length >= 1, `router dbus-daemon not found: ${pgrep.stdout} ${pgrep.stderr}`);
    const wentDown = new Promise<number>((res) => {
      const un = backend.onStateChange((up) => {
        if (!up) {
          un();
          res(performance.now());
        }
      });
    });
    const inflight = ask(`pending2-${process.pid}.local.`, A, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const killedAt = performance.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const downAt = await wentDown;
    assert.ok(downAt - killedAt < 100, `down ${(downAt - killedAt).toFixed(0)} ms after the bus died`);
    assert.equal((await inflight).kind, 'unavailable');
    assert.equal((await ask(`${FIXTURES.printer.name}.`, A)).kind, 'unavailable');
    // A new bus at the same path. With enable-dbus=yes (Debian's default) avahi-daemon exits when
    // its bus dies ("Disconnected from D-Bus, exiting."; only enable-dbus=warn reconnects), so, as
    // systemd would, start it again; we reconnect to the bus on our own, with backoff.
    await startBus(lab.router, lab.router.logDir);
    await waitFor('backend reconnected to the new bus', () => backend.debugState().busName, { timeoutMs: 10_000 });
    await lab.stopRouterAvahi('SIGKILL'); // reaps it (a no-op if it already exited)
    await lab.startRouterAvahi();
    await waitFor('backend up on the new bus', () => backend.isUp(), { timeoutMs: 5000 });
    const again = await eventually(() => ask(`${FIXTURES.printer.name}.`, A, { timeoutMs: 2000 }), 10_000);
    assert.deepEqual(
      records(again).map((r) => ipv4(r.data)),
      [FIXTURES.printer.ipv4],
    );
  });
});
