import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZoneAnswer } from '../../src/lib/dns-wire/types.js';
import { buildQuery, startServer, udpExchange } from './dns-test-client.js';

test('40 lookups in flight, each listening on the server signal as backends do: no MaxListenersExceededWarning; stop aborts them all', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  let listening = 0;
  let aborted = 0;
  const resolve = (_q: unknown, _zone: unknown, signal?: AbortSignal): Promise<ZoneAnswer> =>
    new Promise<ZoneAnswer>((done) => {
      listening++;
      signal?.addEventListener(
        'abort',
        () => {
          aborted++;
          done({ kind: 'servfail', reason: 'stopped' });
        },
        { once: true },
      );
    });
  const { server, port } = await startServer({ resolve, udpHandoffMs: 0 });
  try {
    const replies = Array.from({ length: 40 }, (_, i) => udpExchange(port, buildQuery({ id: i + 1, name: `held-${i}.local`, type: 1 }), 300));
    for (let i = 0; i < 100 && listening < 40; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(listening, 40, 'every lookup reached the resolver');
    await Promise.all(replies);
    // Node emits the warning on the next tick after the 11th listener.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.map((w) => w.name),
      [],
    );
  } finally {
    await server.stop();
    process.off('warning', onWarning);
  }
  assert.equal(aborted, 40, 'stop aborted every lookup in flight');
});
