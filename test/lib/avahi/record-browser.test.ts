import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browseRecords } from '../../../src/lib/avahi/record-browser.js';
import type { BrowseRequest } from '../../../src/lib/avahi/record-browser.js';
import { SignalRouter } from '../../../src/lib/avahi/signal-router.js';
import { AVAHI_RECORD_BROWSER_IFACE, AvahiCallError } from '../../../src/lib/avahi/types.js';
import type { AvahiSession, CallRequest, RecordBrowserEvent } from '../../../src/lib/avahi/types.js';

/** An AvahiSession whose Avahi is a script: `onCreate` runs when a browser is created/started. */
class FakeSession implements AvahiSession {
  readonly abort = new AbortController();
  readonly router = new SignalRouter();
  readonly calls: string[] = [];
  private n = 0;
  /** Runs when the browser exists (Prepare+Start, or RecordBrowserNew *before* its reply). */
  onCreate: (path: string) => void = () => {};
  /** Override a method's reply (default: success). */
  reply: (req: CallRequest) => Promise<readonly unknown[]> | undefined = () => undefined;

  constructor(readonly server2: boolean) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  call(req: CallRequest): Promise<readonly unknown[]> {
    this.calls.push(`${req.member} ${req.path}`);
    const custom = this.reply(req);
    if (custom !== undefined) return custom;
    if (req.member === 'RecordBrowserPrepare' || req.member === 'RecordBrowserNew') {
      const path = `/Client1/RecordBrowser${++this.n}`;
      // Old Avahi answers from its cache before the reply with the path goes out.
      if (req.member === 'RecordBrowserNew') this.onCreate(path);
      return Promise.resolve([path]);
    }
    if (req.member === 'Start') queueMicrotask(() => this.onCreate(req.path));
    return Promise.resolve([]);
  }

  subscribe(path: string, handler: (event: RecordBrowserEvent) => void): () => void {
    return this.router.subscribe(path, handler);
  }

  emit(path: string, member: string, body: unknown[] = []): void {
    this.router.dispatch({ path, interface: AVAHI_RECORD_BROWSER_IFACE, member, body });
  }

  item(path: string, octet: number, iface = 2, member = 'ItemNew'): void {
    this.emit(path, member, [iface, 0, 'h.local', 0x8001, 1, Buffer.from([10, 0, 0, octet]), 0]);
  }
}

const req = (over: Partial<BrowseRequest> = {}): BrowseRequest => ({
  name: 'h.local.',
  type: 1,
  mode: 'first',
  timeoutMs: 200,
  windowMs: 200,
  ...over,
});
const octets = (o: Awaited<ReturnType<typeof browseRecords>>): number[] => (o.kind === 'records' ? o.records.map((r) => r.rdata[3] ?? -1).sort() : []);

for (const server2 of [true, false]) {
  describe(`browseRecords (${server2 ? 'Server2 Prepare/Start' : 'RecordBrowserNew + buffered signals'})`, () => {
    it('first: settles on the first record, with the rest of its burst, and frees the browser', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => {
        s.item(p, 1);
        s.item(p, 2);
      };
      const t = performance.now();
      const out = await browseRecords(s, req());
      assert.ok(performance.now() - t < 50);
      assert.deepEqual(octets(out), [1, 2]);
      const create = server2 ? 'RecordBrowserPrepare /' : 'RecordBrowserNew /';
      const expected = server2 ? [create, 'Start /Client1/RecordBrowser1', 'Free /Client1/RecordBrowser1'] : [create, 'Free /Client1/RecordBrowser1'];
      assert.deepEqual(s.calls, expected);
      assert.deepEqual(s.router.size, { subscribed: 0, buffered: 0 });
    });

    it('first with settles: an unusable record (fe80:: AAAA) does not end the lookup; a later usable one does', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => {
        s.item(p, 254); // "unusable" in this test
        setTimeout(() => s.item(p, 7), 30);
      };
      const settles = (_t: number, rdata: Uint8Array): boolean => rdata[3] !== 254;
      const t = performance.now();
      const out = await browseRecords(s, req({ settles }));
      assert.ok(performance.now() - t < 150, 'settled on the usable record, before the 200 ms deadline');
      assert.deepEqual(octets(out), [254, 7].sort());

      const only = new FakeSession(server2);
      only.onCreate = (p) => only.item(p, 254);
      const t2 = performance.now();
      const out2 = await browseRecords(only, req({ settles, timeoutMs: 120 }));
      assert.ok(performance.now() - t2 >= 110, 'waited for the deadline');
      assert.deepEqual(octets(out2), [254], 'and still returns what it saw');
    });

    it('collect: gathers until AllForNow, dedupes per-interface copies, honours ItemRemove', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => {
        s.item(p, 1, 2);
        s.item(p, 1, 3); // same rdata on another interface
        s.item(p, 2);
        s.item(p, 3);
        s.item(p, 3, 2, 'ItemRemove');
        s.emit(p, 'CacheExhausted');
        s.emit(p, 'AllForNow');
      };
      const out = await browseRecords(s, req({ mode: 'collect', windowMs: 5000, timeoutMs: 5000 }));
      assert.deepEqual(octets(out), [1, 2]);
      assert.ok(out.kind === 'records' && out.records[0]?.clazz === 0x8001, 'class passed through; the backend strips the flush bit');
    });

    it('AllForNow with nothing is none; silence is timeout (and the browser is still freed)', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => s.emit(p, 'AllForNow');
      assert.deepEqual(await browseRecords(s, req()), { kind: 'none' });
      const quiet = new FakeSession(server2);
      const t = performance.now();
      assert.deepEqual(await browseRecords(quiet, req({ timeoutMs: 80 })), { kind: 'timeout' });
      assert.ok(performance.now() - t >= 75);
      assert.ok(quiet.calls.at(-1)?.startsWith('Free '));
      assert.deepEqual(quiet.router.size, { subscribed: 0, buffered: 0 });
    });

    it('collect window returns what it has when AllForNow does not come', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => s.item(p, 9);
      const out = await browseRecords(s, req({ mode: 'collect', windowMs: 50, timeoutMs: 1000 }));
      assert.deepEqual(octets(out), [9]);
    });

    it('Avahi going away mid-browse answers unavailable at once and does not call Free', async () => {
      const s = new FakeSession(server2);
      setTimeout(() => s.abort.abort(new AvahiCallError({ kind: 'unavailable', reason: 'avahi left the bus' })), 20);
      const t = performance.now();
      const out = await browseRecords(s, req({ timeoutMs: 5000 }));
      assert.ok(performance.now() - t < 100);
      assert.equal(out.kind, 'unavailable');
      assert.ok(!s.calls.some((c) => c.startsWith('Free')));
    });

    it('the caller aborting settles unavailable and frees the browser', async () => {
      const s = new FakeSession(server2);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      const out = await browseRecords(s, req({ timeoutMs: 5000, signal: ac.signal }));
      assert.deepEqual(out, { kind: 'unavailable', reason: 'aborted' });
      assert.ok(s.calls.at(-1)?.startsWith('Free '));
    });

    it('a path that arrives after the deadline is freed (and never started)', async () => {
      const s = new FakeSession(server2);
      let release = (): void => {};
      s.reply = (r) => (r.member.startsWith('RecordBrowser') ? new Promise((res) => (release = () => res(['/Client1/RecordBrowser42']))) : undefined);
      assert.deepEqual(await browseRecords(s, req({ timeoutMs: 30 })), { kind: 'timeout' });
      release();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(s.calls.slice(1), ['Free /Client1/RecordBrowser42']);
      assert.deepEqual(s.router.size, { subscribed: 0, buffered: 0 });
    });

    it('maps Failure and D-Bus errors to failure, a vanished Avahi to unavailable', async () => {
      const s = new FakeSession(server2);
      s.onCreate = (p) => s.emit(p, 'Failure', ['Timeout reached']);
      assert.deepEqual(await browseRecords(s, req()), { kind: 'failure', error: 'Timeout reached' });
      const bad = new FakeSession(server2);
      bad.reply = (r) =>
        r.member.startsWith('RecordBrowser')
          ? Promise.reject(new AvahiCallError({ kind: 'dbus-error', name: 'org.freedesktop.Avahi.InvalidDomainNameError', message: 'Invalid domain name' }))
          : undefined;
      const out = await browseRecords(bad, req());
      assert.equal(out.kind, 'failure');
      const gone = new FakeSession(server2);
      gone.reply = () => Promise.reject(new AvahiCallError({ kind: 'unavailable', reason: 'org.freedesktop.DBus.Error.ServiceUnknown' }));
      assert.equal((await browseRecords(gone, req())).kind, 'unavailable');
    });
  });
}

describe('browseRecords without a session', () => {
  it('answers unavailable synchronously-fast when Avahi is down', async () => {
    assert.deepEqual(await browseRecords(undefined, req()), { kind: 'unavailable', reason: 'avahi is down' });
    const s = new FakeSession(true);
    s.abort.abort();
    assert.equal((await browseRecords(s, req())).kind, 'unavailable');
    assert.deepEqual(s.calls, []);
  });

  it('sends the name without its trailing dot, class IN, the type, flags 0', async () => {
    const s = new FakeSession(true);
    let body: readonly unknown[] | undefined;
    s.reply = (r) => {
      if (r.member === 'RecordBrowserPrepare') body = r.body;
      return undefined;
    };
    s.onCreate = (p) => s.emit(p, 'AllForNow');
    await browseRecords(s, req({ name: '2.0.77.10.in-addr.arpa.', type: 12 }));
    assert.deepEqual(body, [-1, -1, '2.0.77.10.in-addr.arpa', 1, 12, 0]);
  });
});
