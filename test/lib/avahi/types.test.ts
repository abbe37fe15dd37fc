import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { narrowRecordBrowserSignal } from '../../../src/lib/avahi/types.js';

const item = (rdata: unknown = Buffer.from([10, 0, 0, 1])): unknown[] => [2, 0, 'host.local', 1, 1, rdata, 4];

describe('narrowRecordBrowserSignal', () => {
  it('narrows ItemNew/ItemRemove and copies rdata out of the receive buffer', () => {
    const backing = Buffer.from([0xff, 10, 0, 0, 1, 0xff]);
    const rdata = backing.subarray(1, 5);
    const ev = narrowRecordBrowserSignal('ItemNew', item(rdata));
    assert.ok(ev?.kind === 'item-new');
    assert.deepEqual(
      { ...ev, rdata: [...ev.rdata] },
      {
        kind: 'item-new',
        iface: 2,
        proto: 0,
        name: 'host.local',
        clazz: 1,
        type: 1,
        rdata: [10, 0, 0, 1],
        flags: 4,
      },
    );
    assert.notEqual(ev.rdata.buffer, backing.buffer, 'a copy, not a view into the message');
    assert.equal(narrowRecordBrowserSignal('ItemRemove', item())?.kind, 'item-remove');
  });

  const bad: [string, unknown, unknown][] = [
    ['body not an array', 'ItemNew', 'x'],
    ['rdata a string', 'ItemNew', item('0a000001')],
    ['rdata a number array', 'ItemNew', item([10, 0, 0, 1])],
    ['name missing', 'ItemNew', [2, 0, undefined, 1, 1, Buffer.alloc(0), 0]],
    ['type not an integer', 'ItemNew', [2, 0, 'n', 1, 1.5, Buffer.alloc(0), 0]],
    ['too short', 'ItemRemove', [2, 0, 'n']],
    ['unknown member', 'Frobnicate', []],
    ['member not a string', 42, []],
  ];
  for (const [why, member, body] of bad) {
    it(`drops a malformed signal: ${why}`, () => assert.equal(narrowRecordBrowserSignal(member, body), undefined));
  }

  it('narrows the body-less and Failure signals', () => {
    assert.deepEqual(narrowRecordBrowserSignal('AllForNow', []), { kind: 'all-for-now' });
    assert.deepEqual(narrowRecordBrowserSignal('CacheExhausted', []), { kind: 'cache-exhausted' });
    assert.deepEqual(narrowRecordBrowserSignal('Failure', ['Timeout reached']), { kind: 'failure', error: 'Timeout reached' });
    assert.deepEqual(narrowRecordBrowserSignal('Failure', [7]), { kind: 'failure', error: 'unknown failure' });
  });
});
