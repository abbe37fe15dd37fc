import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignalRouter } from '../../../src/lib/avahi/signal-router.js';
import { AVAHI_RECORD_BROWSER_IFACE } from '../../../src/lib/avahi/types.js';

const sig = (path: string, member: string, body: unknown[] = []) => ({ path, interface: AVAHI_RECORD_BROWSER_IFACE, member, body });
const itemNew = (path: string, octet: number) => sig(path, 'ItemNew', [2, 0, 'h.local', 1, 1, Buffer.from([10, 0, 0, octet]), 0]);

describe('SignalRouter', () => {
  it('dispatches by object path and ignores other interfaces', () => {
    const r = new SignalRouter();
    const a: string[] = [];
    const b: string[] = [];
    r.subscribe('/Client1/RecordBrowser1', (e) => a.push(e.kind));
    r.subscribe('/Client1/RecordBrowser2', (e) => b.push(e.kind));
    assert.equal(r.dispatch(sig('/Client1/RecordBrowser2', 'AllForNow')), true);
    assert.equal(r.dispatch(itemNew('/Client1/RecordBrowser1', 1)), true);
    assert.equal(r.dispatch({ path: '/', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', body: [] }), false);
    assert.deepEqual(a, ['item-new']);
    assert.deepEqual(b, ['all-for-now']);
  });

  it('buffers signals that beat the subscription (RecordBrowserNew race) and replays them in order', () => {
    const r = new SignalRouter();
    r.dispatch(itemNew('/Client1/RecordBrowser7', 1));
    r.dispatch(sig('/Client1/RecordBrowser7', 'CacheExhausted'));
    r.dispatch(sig('/Client1/RecordBrowser7', 'AllForNow'));
    assert.deepEqual(r.size, { subscribed: 0, buffered: 3 });
    const got: string[] = [];
    r.subscribe('/Client1/RecordBrowser7', (e) => got.push(e.kind));
    assert.deepEqual(got, ['item-new', 'cache-exhausted', 'all-for-now']);
    assert.deepEqual(r.size, { subscribed: 1, buffered: 0 });
  });

  it('stops replaying once the handler is gone (e.g. the router was cleared by a handler)', () => {
    const r = new SignalRouter();
    r.dispatch(sig('/p', 'AllForNow'));
    r.dispatch(itemNew('/p', 1));
    const got: string[] = [];
    r.subscribe('/p', (e) => {
      got.push(e.kind);
      r.clear();
    });
    assert.deepEqual(got, ['all-for-now']);
  });

  it('expires buffered signals after bufferMs and bounds them', () => {
    let now = 0;
    const r = new SignalRouter({ bufferMs: 100, maxBuffered: 3, now: () => now });
    r.dispatch(sig('/old', 'AllForNow'));
    now = 150;
    r.dispatch(sig('/new', 'AllForNow'));
    assert.deepEqual(r.size, { subscribed: 0, buffered: 1 }, '/old expired');
    for (let i = 0; i < 5; i++) r.dispatch(sig(`/p${i}`, 'AllForNow'));
    assert.equal(r.size.buffered, 3, 'oldest paths dropped beyond maxBuffered');
    const got: string[] = [];
    r.subscribe('/p4', (e) => got.push(e.kind));
    assert.deepEqual(got, ['all-for-now']);
  });

  it('unsubscribe is idempotent and never removes a newer handler; clear drops everything', () => {
    const r = new SignalRouter();
    const un1 = r.subscribe('/p', () => {});
    const got: string[] = [];
    r.subscribe('/p', (e) => got.push(e.kind));
    un1();
    un1();
    r.dispatch(sig('/p', 'AllForNow'));
    assert.deepEqual(got, ['all-for-now']);
    r.dispatch(sig('/q', 'AllForNow'));
    r.clear();
    assert.deepEqual(r.size, { subscribed: 0, buffered: 0 });
  });

  it('drops malformed RecordBrowser signals without buffering them', () => {
    const r = new SignalRouter();
    assert.equal(r.dispatch(sig('/p', 'ItemNew', ['garbage'])), true);
    assert.equal(r.dispatch({ path: 7, interface: AVAHI_RECORD_BROWSER_IFACE, member: 'AllForNow', body: [] }), false);
    assert.deepEqual(r.size, { subscribed: 0, buffered: 0 });
  });
});
