import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { socketFd } from '../../../src/lib/net/mmsg-vector.js';
import { createUdpBatchSender } from '../../../src/lib/net/udp-batch.js';
import { socketInode, udpDrops } from '../../../src/lib/net/udp-drops.js';

const udpDropsBoundTo = (host: string, port: number): Map<number, number> => udpDrops(new Set(), { host, port }).bound;

async function bound(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  await new Promise<void>((r) => s.bind(0, address, r));
  return s;
}

const inodeOf = (s: dgram.Socket): number => {
  const fd = socketFd(s)?.fd;
  const inode = fd === undefined ? undefined : socketInode(fd);
  assert.ok(inode !== undefined, 'the socket has an inode');
  return inode;
};

test("udpDrops boundTo: another socket's drops found by its address and port (wildcard binds included), the same count as by inode", async () => {
  const target = await bound('udp4', '127.0.0.1');
  const wildcard = await bound('udp4', '0.0.0.0');
  const v6 = await bound('udp6', '::1');
  const from = await bound('udp4', '127.0.0.1');
  try {
    target.setRecvBufferSize(4096); // the kernel keeps 8 KiB: a handful of datagrams
    const port = target.address().port;
    const sender = createUdpBatchSender(from, { ipv6: false });
    const to = { address: '127.0.0.1', port, family: 'IPv4' as const, size: 0 };
    // Synchronously, 64 per sendmmsg: the event loop cannot read `target` in between.
    for (let i = 0; i < 512; i++) sender.send([Buffer.alloc(100, i)], to);
    sender.close();
    const byAddress = udpDropsBoundTo('127.0.0.1', port);
    const inode = inodeOf(target);
    const drops = byAddress.get(inode) ?? 0;
    assert.ok(drops > 400, `${drops} dropped of 512`);
    assert.deepEqual([...byAddress.keys()], [inode], 'only the socket on that address and port');
    assert.equal(udpDrops(new Set([inode])).ours.get(inode), drops, 'the same row as by inode');
    assert.equal(udpDropsBoundTo('127.0.0.2', port).size, 0, 'another address on the port: not it');
    assert.deepEqual([...udpDropsBoundTo('127.0.0.1', wildcard.address().port).keys()], [inodeOf(wildcard)], 'a wildcard bind on the port serves the address');
    assert.deepEqual([...udpDropsBoundTo('::1', v6.address().port).keys()], [inodeOf(v6)], 'IPv6, from /proc/net/udp6');
    assert.equal(udpDropsBoundTo('localhost', port).size, 0, 'not an IP literal: nothing');
  } finally {
    for (const s of [target, wildcard, v6, from]) s.close();
  }
});
