import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { encodeSockaddr, SockaddrNames, type UdpPeer, writeSockaddrIn } from '../../../src/lib/net/sockaddr.js';
import { createUdpBatchSender, MAX_SEGMENT_BYTES, SLOT_BYTES } from '../../../src/lib/net/udp-batch.js';
import { mmsgUnavailable } from '../../../src/lib/net/mmsg-vector.js';
import { createUdpDrain } from '../../../src/lib/net/udp-drain.js';

const open = new Set<Socket>();
after(() => {
  for (const s of open) {
    try {
      s.close();
    } catch {
      // closed by its test already
    }
  }
});

/** A bound socket, closed after the tests even when one fails (an open socket keeps the run alive). */
async function bound(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
  const s = createSocket(type);
  s.bind(0, host);
  await once(s, 'listening');
  open.add(s);
  s.once('close', () => open.delete(s));
  return s;
}

function collect(s: Socket): { got: { msg: Buffer; port: number; address: string }[] } {
  const r = { got: [] as { msg: Buffer; port: number; address: string }[] };
  s.on('message', (msg, rinfo) => r.got.push({ msg, port: rinfo.port, address: rinfo.address }));
  return r;
}

const until = async (ok: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};

for (const [type, host] of [
  ['udp4', '127.0.0.1'],
  ['udp6', '::1'],
] as const) {
  test(`${type}: an idle sender sends at once; what follows in the same turn leaves in one sendmmsg, byte for byte and to the right peer`, async () => {
    const rx = await bound(type, host);
    const tx = await bound(type, host);
    const r = collect(rx);
    // The clock stands still within the turn (a loaded machine can take over IDLE_MS for the loop below).
    let clock = 1000;
    const sender = createUdpBatchSender(tx, { ipv6: type === 'udp6', now: () => clock });
    const to = { address: host, port: rx.address().port, family: type === 'udp6' ? ('IPv6' as const) : ('IPv4' as const), size: 0 };
    sender.send([Buffer.from([0]), Buffer.from('-part-two')], to);
    assert.deepEqual(sender.counts(), { batched: 1, fallback: 0, calls: 1, segmented: 0 }, 'the first one left before send returned');
    for (let i = 1; i < 10; i++) sender.send([Buffer.from([i]), Buffer.from('-part-two')], to);
    assert.equal(sender.counts().calls, 1, 'the rest wait for the end of the turn');
    clock += 10; // the next turn: idle again
    await until(() => r.got.length === 10);
    assert.deepEqual(
      r.got.map((g) => g.msg.toString('latin1')),
      Array.from({ length: 10 }, (_, i) => `${String.fromCharCode(i)}-part-two`),
    );
    assert.ok(r.got.every((g) => g.port === tx.address().port));
    assert.deepEqual(sender.counts(), { batched: 10, fallback: 0, calls: 2, segmented: 0 });
    sender.close();
    tx.close();
    rx.close();
  });
}

test('a datagram larger than a slot, and a scoped or unparsable address, go through socket.send and still arrive', async () => {
  const rx = await bound('udp4', '127.0.0.1');
  const tx = await bound('udp4', '127.0.0.1');
  const r = collect(rx);
  const sender = createUdpBatchSender(tx, { ipv6: false });
  sender.send([Buffer.alloc(SLOT_BYTES + 1, 7)], { address: '127.0.0.1', port: rx.address().port, family: 'IPv4', size: 0 });
  await until(() => r.got.length === 1);
  assert.equal(r.got[0]?.msg.length, SLOT_BYTES + 1);
  assert.deepEqual(sender.counts(), { batched: 0, fallback: 1, calls: 0, segmented: 0 });
  sender.close();
  tx.close();
  rx.close();
});

test('a connected socket: no name in the header; a refused peer is reported, by onError or by the socket (whichever syscall meets the ICMP error first)', async () => {
  const gone = await bound('udp4', '127.0.0.1');
  const port = gone.address().port;
  gone.close();
  const tx = createSocket('udp4');
  const socketErrors: string[] = [];
  tx.on('error', (err: NodeJS.ErrnoException) => socketErrors.push(String(err.code)));
  tx.connect(port, '127.0.0.1');
  await once(tx, 'connect');
  const sender = createUdpBatchSender(tx, { ipv6: false });
  const errors: string[] = [];
  try {
    for (let round = 0; round < 20 && errors.length + socketErrors.length < 3; round++) {
      sender.send([Buffer.from('x')], undefined, (err) => errors.push(String(err.code)));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok([...errors, ...socketErrors].includes('ECONNREFUSED'), `onError: ${errors.join(',')}; socket: ${socketErrors.join(',')}`);
    assert.ok(sender.counts().calls > 0, 'went through sendmmsg');
  } finally {
    sender.close();
    tx.close();
  }
});

test('a socket closed before the flush: what was queued is dropped, never written to a descriptor reused since', async () => {
  const rx = await bound('udp4', '127.0.0.1');
  const r = collect(rx);
  const tx = await bound('udp4', '127.0.0.1');
  const sender = createUdpBatchSender(tx, { ipv6: false });
  const to = { address: '127.0.0.1', port: rx.address().port, family: 'IPv4' as const, size: 0 };
  sender.send([Buffer.from('first')], to); // sent at once (idle sender)
  sender.send([Buffer.from('late')], to); // queued for the end of the turn
  tx.close();
  // The next socket likely gets the same descriptor number.
  const other = await bound('udp4', '127.0.0.1');
  await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(
    r.got.map((g) => g.msg.toString()),
    ['first'],
  );
  sender.close();
  other.close();
  rx.close();
});

for (const [type, host] of [
  ['udp4', '127.0.0.1'],
  ['udp6', '::1'],
] as const) {
  test(`${type}: drain reads the rest of the queue from the message handler — each datagram once, in order, with its sender, which a reply reaches`, async () => {
    const rx = await bound(type, host);
    const tx = await bound(type, host);
    const echoes = collect(tx);
    // Views: each datagram is read (and echoed: the sender copies) before the next one overwrites its slot.
    const drain = createUdpDrain(rx, { idleMs: Number.POSITIVE_INFINITY, slots: 8, slotBytes: 64, maxRounds: 2, connected: false, views: true });
    const replies = createUdpBatchSender(rx, { ipv6: type === 'udp6' });
    const seen: { text: string; port: number; address: string }[] = [];
    const each = (m: Buffer, from: UdpPeer): void => {
      seen.push({ text: m.toString(), port: from.port, address: from.address });
      replies.send([Buffer.from('re:'), m], from);
    };
    rx.on('message', (m, rinfo) => {
      each(m, rinfo);
      drain.drain(each, (err) => assert.fail(err));
    });
    // Queue them all before the receiver's event loop gets a turn: one synchronous burst.
    const sender = createUdpBatchSender(tx, { ipv6: type === 'udp6' });
    const to = { address: host, port: rx.address().port, family: type === 'udp6' ? ('IPv6' as const) : ('IPv4' as const), size: 0 };
    for (let i = 0; i < 40; i++) sender.send([Buffer.from(`m${i}`)], to);
    await until(() => seen.length >= 40);
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(
      seen.map((s) => s.text),
      Array.from({ length: 40 }, (_, i) => `m${i}`),
    );
    assert.ok(
      seen.every((s) => s.port === tx.address().port && s.address === host),
      JSON.stringify(seen.slice(0, 3)),
    );
    assert.ok(drain.counts().drained > 0, 'the drain took part');
    // Replies to peers the drain read go back from their numbers (IPv4) or the kernel's sockaddr (IPv6).
    await until(() => echoes.got.length >= 40);
    assert.deepEqual(echoes.got.map((g) => g.msg.toString()).sort(), Array.from({ length: 40 }, (_, i) => `re:m${i}`).sort());
    assert.ok(echoes.got.every((g) => g.port === rx.address().port));
    replies.close();
    drain.close();
    sender.close();
    tx.close();
    rx.close();
  });
}

test('drain: a datagram beyond the slot is reported truncated and not handed on', async () => {
  const rx = await bound('udp4', '127.0.0.1');
  const tx = await bound('udp4', '127.0.0.1');
  let truncated = 0;
  const drain = createUdpDrain(rx, { idleMs: Number.POSITIVE_INFINITY, slots: 4, slotBytes: 16, maxRounds: 1, connected: false, onTruncated: () => truncated++ });
  const seen: number[] = [];
  rx.on('message', (m) => {
    seen.push(m.length);
    drain.drain(
      (x) => seen.push(x.length),
      () => undefined,
    );
  });
  const sender = createUdpBatchSender(tx, { ipv6: false });
  const to = { address: '127.0.0.1', port: rx.address().port, family: 'IPv4' as const, size: 0 };
  // The idle sender's first datagram leaves alone (to a port nobody reads); then all three land in
  // the receiver's queue together, in one sendmmsg.
  sender.send([Buffer.alloc(1)], { ...to, port: tx.address().port });
  sender.send([Buffer.alloc(5)], to);
  sender.send([Buffer.alloc(100)], to);
  sender.send([Buffer.alloc(6)], to);
  await until(() => seen.length + truncated >= 3);
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(seen, [5, 6]);
  assert.equal(truncated, 1);
  drain.close();
  sender.close();
  tx.close();
  rx.close();
});

test('drain: a datagram on a quiet socket costs no syscall (no queue behind it); one soon after another does', async () => {
  const rx = await bound('udp4', '127.0.0.1');
  const tx = await bound('udp4', '127.0.0.1');
  const drain = createUdpDrain(rx, { idleMs: 50, slots: 4, slotBytes: 64, maxRounds: 1, connected: false });
  let n = 0;
  rx.on('message', () => {
    n++;
    drain.drain(
      () => undefined,
      () => undefined,
    );
  });
  const to = rx.address();
  tx.send('a', to.port, to.address);
  await until(() => n === 1);
  assert.equal(drain.counts().calls, 0, 'the first datagram after a quiet spell');
  tx.send('b', to.port, to.address);
  await until(() => n === 2);
  assert.equal(drain.counts().calls, 1, 'one 50 ms later: drained (EAGAIN)');
  drain.close();
});

test('sockaddr: encoded and read back the way RemoteInfo spells addresses (IPv4-mapped included)', () => {
  const names = new SockaddrNames();
  for (const [address, ipv6, want] of [
    ['192.0.2.7', false, '192.0.2.7'],
    ['2001:db8::1', true, '2001:db8::1'],
    ['::ffff:192.0.2.7', true, '::ffff:192.0.2.7'],
    ['192.0.2.7', true, '::ffff:192.0.2.7'],
  ] as const) {
    const b = encodeSockaddr({ address, port: 5353 }, ipv6);
    assert.ok(b, address);
    const p = names.peer(b, 0, b.length, 1);
    assert.equal(p?.address, want);
    assert.equal(p?.port, 5353);
  }
  const peer = names.peer(encodeSockaddr({ address: '198.51.100.9', port: 53 }, false) ?? Buffer.alloc(0), 0, 16, 1);
  assert.equal(peer?.ipv4, 0xc6336409, 'an AF_INET peer carries its address as a number');
  const written = Buffer.alloc(16, 0xff);
  writeSockaddrIn(written, 0, peer?.ipv4 ?? 0, 53);
  assert.deepEqual(written, encodeSockaddr({ address: '198.51.100.9', port: 53 }, false));
  assert.equal(encodeSockaddr({ address: '2001:db8::1', port: 1 }, false), null);
  assert.equal(encodeSockaddr({ address: 'fe80::1%eth0', port: 1 }, true), null);
});

/** A test framing for `segment.pad`: the first byte is the payload length, the rest is filler. */
const padFramed = (bytes: Buffer, at: number, len: number, to: number): boolean => {
  if (to > bytes.length - at) return false;
  bytes.fill(0x2e, at + len, at + to);
  return true;
};

/** A receiver and a sender connected to it (segmenting needs a connected socket). */
async function connectedPair(): Promise<{ rx: Socket; r: ReturnType<typeof collect>; tx: Socket }> {
  const rx = await bound('udp4', '127.0.0.1');
  const r = collect(rx);
  const tx = createSocket('udp4');
  open.add(tx);
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  return { rx, r, tx };
}

test('segment: a batch on a connected socket leaves as ONE segmented message, each datagram whole at the batch size, in order', { skip: mmsgUnavailable() }, async () => {
  const { rx, r, tx } = await connectedPair();
  let clock = 1000;
  const sender = createUdpBatchSender(tx, { ipv6: false, now: () => clock, segment: { pad: padFramed, minPad: 1 } });
  const payloads = Array.from({ length: 20 }, (_, i) => `q${i}-${'x'.repeat(i % 7)}`);
  sender.send([Buffer.from([0])], undefined); // an idle sender sends the first at once, alone
  for (const p of payloads) sender.send([Buffer.from([p.length]), Buffer.from(p)], undefined);
  clock += 10;
  await until(() => r.got.length === 21);
  const size = Math.max(...payloads.map((p) => p.length + 1));
  assert.deepEqual(
    r.got.slice(1).map((g) => g.msg.subarray(1, 1 + (g.msg[0] ?? 0)).toString()),
    payloads,
  );
  assert.ok(
    r.got.slice(1).every((g) => g.msg.length === size),
    `every datagram grown to ${size}`,
  );
  assert.deepEqual(sender.counts(), { batched: 21, fallback: 0, calls: 2, segmented: 20 });
  sender.close();
  tx.close();
  rx.close();
});

test('segment: a datagram pad cannot grow, or one past MAX_SEGMENT_BYTES, sends the batch the usual way (each at its own size)', { skip: mmsgUnavailable() }, async () => {
  const { rx, r, tx } = await connectedPair();
  let clock = 1000;
  const sender = createUdpBatchSender(tx, { ipv6: false, now: () => clock, segment: { pad: () => false, minPad: 1 } });
  sender.send([Buffer.from('first')], undefined);
  for (const p of ['a', 'bb', 'ccc']) sender.send([Buffer.from(p)], undefined);
  clock += 10;
  await until(() => r.got.length === 4);
  assert.deepEqual(
    r.got.map((g) => g.msg.toString()),
    ['first', 'a', 'bb', 'ccc'],
  );
  const big = createUdpBatchSender(tx, { ipv6: false, now: () => clock, segment: { pad: padFramed, minPad: 1 } });
  big.send([Buffer.from('first')], undefined);
  big.send([Buffer.alloc(MAX_SEGMENT_BYTES + 1, 1)], undefined);
  big.send([Buffer.from('small')], undefined);
  clock += 10;
  await until(() => r.got.length === 7);
  assert.deepEqual(
    r.got.slice(4).map((g) => g.msg.length),
    [5, MAX_SEGMENT_BYTES + 1, 5],
  );
  assert.equal(big.counts().segmented, 0);
  sender.close();
  big.close();
  tx.close();
  rx.close();
});
