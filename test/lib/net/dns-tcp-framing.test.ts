import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSplitter } from '../../../src/lib/net/dns-tcp-framing.js';

const frame = (body: number[]) => Buffer.from([body.length >> 8, body.length & 0xff, ...body]);

test('frames split across chunks in every possible way come out whole', () => {
  const stream = Buffer.concat([frame([1, 2, 3]), frame([]), frame(Array.from({ length: 300 }, (_, i) => i & 0xff)), frame([9])]);
  for (let cut = 1; cut <= stream.length; cut++) {
    const f = new FrameSplitter();
    const out: number[][] = [];
    for (let i = 0; i < stream.length; i += cut) {
      f.push(stream.subarray(i, i + cut));
      for (let m = f.shift(); m !== undefined; m = f.shift()) out.push([...m]);
    }
    assert.deepEqual(
      out.map((m) => m.length),
      [3, 0, 300, 1],
      `chunk size ${cut}`,
    );
    assert.deepEqual(out[0], [1, 2, 3]);
    assert.equal(f.partial(), false);
  }
});

test('pull-based: frames stay buffered until taken; partial() flags a cut frame', () => {
  const f = new FrameSplitter();
  f.push(Buffer.concat([frame([1]), frame([2]), Buffer.from([0xff, 0xff, 7])]));
  assert.equal(f.size(), 9);
  assert.deepEqual([...(f.shift() ?? [])], [1]);
  assert.deepEqual([...(f.shift() ?? [])], [2]);
  assert.equal(f.shift(), undefined);
  assert.equal(f.partial(), true, 'lying 65535 prefix with 1 byte');
  const g = new FrameSplitter();
  g.push(Buffer.from([0]));
  assert.equal(g.shift(), undefined);
  assert.equal(g.partial(), true, 'half a prefix');
});
