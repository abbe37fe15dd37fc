/**
 * journald stores whatever the daemon writes; a line that is not JSON is a line no log reader can
 * parse. Many `.local` misses in flight at once through the real Avahi used to make Node print a
 * multi-line MaxListenersExceededWarning on stderr.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, type Lab } from '../lab/lab.js';
import { labSkip } from '../lab/prereqs.js';
import { startSidecar, type Sidecar } from '../lab/sidecar.js';
import { labDns } from './lab-dns.js';

let lab: Lab;
let sidecar: Sidecar;
const dns = labDns(
  () => lab,
  () => sidecar,
);

describe('the daemon writes JSON lines only', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  before(async () => {
    lab = await createLab({ fixtures: true });
    sidecar = await startSidecar(lab);
  });
  after(async () => {
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('32 misses in flight at once through Avahi: every line of stdout and stderr is JSON', async () => {
    await Promise.all(Array.from({ length: 32 }, (_, i) => dns.direct(`nobody-${i}.local`, 'A').catch(() => undefined)));
    await sidecar.stop();
    const lines = sidecar
      .logs()
      .split('\n')
      .filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a JSON line: ${l}`);
    // One 'abort' listener per browse in flight on the Avahi session's signal is by design, not a leak.
    assert.deepEqual(
      lines.filter((l) => /MaxListenersExceededWarning/.test(l)),
      [],
    );
  });
});
