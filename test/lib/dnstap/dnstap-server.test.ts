import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDnstapServer, type ConnectionEnd, type DnstapMessage, type DnstapServer } from '../../../src/lib/dnstap/index.js';
import { isSidecarError } from '../../../src/errors.js';
import { CT, control, dnstapPayload, frame, FstrmClient, READY, START, STOP, u32 } from './fstrm-client.js';

/** Exact bytes of the server's replies, spelled out from the fstrm spec (not from our encoder). */
const ACCEPT_BYTES = Buffer.concat([u32(0), u32(4 + 4 + 4 + 22), u32(1), u32(1), u32(22), Buffer.from('protobuf:dnstap.Dnstap')]);
const FINISH_BYTES = Buffer.from([0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 5]);

const wait = async (what: string, cond: () => boolean, ms = 2000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('dnstap server (Frame Streams over a unix socket)', () => {
  let dir: string;
  let server: DnstapServer;
  const messages: DnstapMessage[] = [];
  const closes: ConnectionEnd[] = [];
  const hookErrors: string[] = [];
  let hookFrames = 0;
  let throwOnIdentity = 'boom';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'us-dnstap-'));
    server = await startDnstapServer({
      socketPath: join(dir, 'dnstap.sock'),
      maxFrameBytes: 4096,
      handshakeTimeoutMs: 300,
      onMessage: (m) => {
        if (m.identity === throwOnIdentity) throw new Error('consumer bug');
        messages.push(m);
      },
      hooks: {
        frame: () => hookFrames++,
        error: (r) => hookErrors.push(r),
        connectionClosed: (_id, end) => closes.push(end),
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('socket mode is 0660 (Unbound runs as another user)', () => {
    assert.equal(statSync(server.socketPath).mode & 0o777, 0o660);
  });

  test('READY → exact ACCEPT; START; frames decoded in order; STOP → exact FINISH, then close', async () => {
    const c = await FstrmClient.open(server.socketPath);
    await c.send(READY('application/other', CT));
    assert.deepEqual(await c.bytes(ACCEPT_BYTES.length), ACCEPT_BYTES);
    const before = messages.length;
    await c.send(Buffer.concat([START(), frame(dnstapPayload({ identity: 'one' })), frame(dnstapPayload({ identity: 'two' }))]));
    await c.send(STOP());
    assert.deepEqual(await c.bytes(ACCEPT_BYTES.length + FINISH_BYTES.length), Buffer.concat([ACCEPT_BYTES, FINISH_BYTES]));
    await c.waitClosed();
    assert.deepEqual(
      messages.slice(before).map((m) => m.identity),
      ['one', 'two'],
    );
    assert.equal(messages.at(-1)?.type, 'CLIENT_RESPONSE');
    await wait('close reported', () => closes.at(-1)?.kind === 'finished');
  });

  test('a handshake and a data frame split into 1-byte and 3-byte chunks', async () => {
    const c = await FstrmClient.open(server.socketPath);
    await c.trickle(READY(), 1);
    assert.deepEqual(await c.bytes(ACCEPT_BYTES.length), ACCEPT_BYTES);
    const before = messages.length;
    const payload = dnstapPayload({ identity: 'trickled', response: randomBytes(900) });
    await c.trickle(Buffer.concat([START(), frame(payload), frame(dnstapPayload({ identity: 'next' }))]), 3);
    await wait('two messages', () => messages.length === before + 2);
    assert.equal(messages[before]?.identity, 'trickled');
    assert.equal(messages[before]?.responseMessage?.length, 900);
    assert.equal(messages[before]?.responseTimeMs, 1_700_000_000_500);
    c.destroy();
  });

  test('garbage, wrong content type, oversize frames: connection dropped and counted, server keeps accepting', async () => {
    const cases: [name: string, bytes: Buffer, handshakeFirst: boolean, reason: string][] = [
      ['random bytes', Buffer.concat([Buffer.from([0x7f]), randomBytes(200)]), false, 'unexpected-data'],
      ['READY with another content type', READY('protobuf:other.Thing'), false, 'content-type'],
      ['START with another content type', START('text/plain'), false, 'content-type'],
      ['READY without content type', control(4), false, 'content-type'],
      ['control frame over 512 bytes', Buffer.concat([u32(0), u32(100_000)]), false, 'bad-control'],
      ['control field overrunning its frame', Buffer.concat([u32(0), u32(12), u32(4), u32(1), u32(50)]), false, 'bad-control'],
      ['ACCEPT from the writer', control(1, CT), false, 'unexpected-control'],
      ['data frame above the cap (header alone is enough)', u32(4097), true, 'oversize'],
      ['READY again after START', READY(), true, 'unexpected-control'],
    ];
    for (const [name, bytes, handshakeFirst, reason] of cases) {
      const before = server.counters().errors[reason as 'oversize'] ?? 0;
      const c = await FstrmClient.open(server.socketPath);
      if (handshakeFirst) await c.handshake();
      await c.send(bytes);
      await c.waitClosed();
      if (!handshakeFirst) assert.equal(c.received.length, 0, `${name}: no ACCEPT`);
      assert.equal(server.counters().errors[reason as 'oversize'], before + 1, name);
    }
    assert.ok(hookErrors.includes('oversize') && hookErrors.includes('content-type'), 'hooks see the same reasons');
    // Still serving.
    const ok = await FstrmClient.open(server.socketPath);
    assert.deepEqual(await ok.handshake(), ACCEPT_BYTES);
    ok.destroy();
  });

  test('undecodable payloads and a throwing consumer are counted; the connection survives', async () => {
    const c = await FstrmClient.open(server.socketPath);
    await c.handshake();
    const before = server.counters();
    const n = messages.length;
    await c.send(Buffer.concat([frame(Buffer.alloc(64, 0xff)), frame(dnstapPayload({ identity: throwOnIdentity })), frame(dnstapPayload({ identity: 'after' }))]));
    await wait('the good frame', () => messages.length === n + 1);
    const now = server.counters();
    assert.equal(now.errors.protobuf, (before.errors.protobuf ?? 0) + 1);
    assert.equal(now.errors.callback, (before.errors.callback ?? 0) + 1);
    assert.equal(now.frames, before.frames + 3);
    assert.ok(hookFrames >= now.frames);
    assert.equal(c.closed, false);
    c.destroy();
    throwOnIdentity = 'boom';
  });

  test('a peer that never finishes the handshake is dropped; one that is idle after START is not', async () => {
    const stuck = await FstrmClient.open(server.socketPath);
    const idle = await FstrmClient.open(server.socketPath);
    await idle.handshake();
    await stuck.waitClosed(2000);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(idle.closed, false);
    assert.ok((server.counters().errors['handshake-timeout'] ?? 0) >= 1);
    idle.destroy();
  });

  test('ending mid-frame counts as truncated; reconnects are new connections', async () => {
    const accepted = server.counters().connectionsAccepted;
    const c = await FstrmClient.open(server.socketPath);
    await c.handshake();
    await c.send(frame(dnstapPayload()).subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    c.socket.end();
    await wait('truncated', () => closes.some((e) => e.kind === 'error' && e.reason === 'truncated'));
    const again = await FstrmClient.open(server.socketPath);
    assert.deepEqual(await again.handshake(), ACCEPT_BYTES);
    assert.equal(server.counters().connectionsAccepted, accepted + 2);
    again.destroy();
    await wait('all closed', () => server.counters().connectionsOpen === 0);
  });
});

describe('dnstap server: the socket path', () => {
  test('a stale socket from a crashed run is replaced; a regular file is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'us-dnstap-'));
    try {
      const path = join(dir, 'stale.sock');
      // A crashed run: a process that bound the socket and exited without closing it leaves the file.
      spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
      assert.ok(existsSync(path), 'the stale socket file is there');
      const s = await startDnstapServer({ socketPath: path, mode: 0o600, onMessage: () => undefined });
      assert.equal(statSync(path).mode & 0o777, 0o600);
      await s.close();
      assert.equal(existsSync(path), false, 'close removes the socket');
      const file = join(dir, 'file');
      writeFileSync(file, 'keep me');
      await assert.rejects(startDnstapServer({ socketPath: file, onMessage: () => undefined }), (e) => isSidecarError(e, 'LISTEN_FAILED'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
