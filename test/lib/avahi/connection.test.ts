import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { AvahiConnection, isAvahiPresent } from '../../../src/lib/avahi/connection.js';

const logger = pino({ level: 'silent' });

describe('AvahiConnection without a bus', () => {
  it('starts down, keeps retrying with backoff, and closes cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'us-avconn-'));
    try {
      const conn = new AvahiConnection({ logger, busAddress: `unix:path=${join(dir, 'nobus')}`, backoff: { minMs: 10, maxMs: 40 } });
      const t = performance.now();
      await conn.whenSettled(2000);
      assert.ok(performance.now() - t < 500, 'a missing socket is known at once');
      assert.equal(conn.isUp(), false);
      assert.equal(conn.session, undefined);
      await new Promise((r) => setTimeout(r, 100)); // a few reconnect attempts
      await conn.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a peer that accepts but never speaks D-Bus is bounded by the call timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'us-avconn-'));
    const path = join(dir, 'mute');
    // resume(): a paused server socket never reads our FIN, and server.close() would wait forever.
    const server = createServer((s) => s.resume());
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const t = performance.now();
      assert.equal(await isAvahiPresent(`unix:path=${path}`, 150), false);
      assert.ok(performance.now() - t < 1000);
      const conn = new AvahiConnection({ logger, busAddress: `unix:path=${path}`, callTimeoutMs: 100 });
      await conn.whenSettled(2000);
      assert.equal(conn.isUp(), false);
      await conn.close();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('isAvahiPresent is false for a missing or malformed address', async () => {
    assert.equal(await isAvahiPresent('unix:path=/nonexistent/us-avtest/bus'), false);
    assert.equal(await isAvahiPresent('bogus'), false);
  });
});
