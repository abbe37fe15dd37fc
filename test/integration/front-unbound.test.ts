/**
 * The front against a real Unbound 1.17 with `proxy-protocol-port` on host loopback (a free
 * port; nothing leaves 127.0.0.0/8): Unbound must accept our PROXYv2 header on UDP and TCP and
 * use the address in it. Its access-control allows the front (127.0.0.1: Unbound checks the
 * proxy's own address too, NLnetLabs/unbound#760 "ACL (deny/refuse) for the proxy itself") and
 * the client 127.0.0.2, so a client on 127.0.0.3 is REFUSED by Unbound — without the header
 * Unbound would see the front's allowed address for both. The namespace-lab suite (LAN client, nftables, first-packet
 * race) builds on this.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsFront, dnsFrontConfigSchema, type DnsFront } from '../../src/dns-front/index.js';
import { buildQuery } from '../dns-server/dns-test-client.js';
import { freePort } from '../lab/free-port.js';
import { loopbackUnboundConf } from '../lab/loopback-unbound.js';
import { labSkip } from '../lab/prereqs.js';
import { removeDirSync, stopChild, track } from '../lab/reaper.js';
import { waitFor } from '../lab/wait.js';

const skip = labSkip();

function udpFrom(source: string, port: number, msg: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => (s.close(), resolve(undefined)), 2000);
    s.bind(0, source, () => s.send(msg, port, '127.0.0.1'));
    s.on('message', (m) => (clearTimeout(timer), s.close(), resolve(m)));
  });
}

function tcpFrom(source: string, port: number, msgs: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: source });
    let buf = Buffer.alloc(0);
    const out: Buffer[] = [];
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`tcp: ${out.length} of ${msgs.length}`))), 3000);
    s.on('connect', () => s.write(Buffer.concat(msgs.flatMap((m) => [Buffer.from([m.length >> 8, m.length & 255]), m]))));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === msgs.length) clearTimeout(timer), s.destroy(), resolve(out);
    });
    s.on('error', reject);
  });
}

const rcode = (m: Buffer | undefined) => (m === undefined ? -1 : (m[3] as number) & 0x0f);

describe('DNS front → real Unbound with proxy-protocol-port', { skip }, () => {
  let dir: string;
  let unbound: ChildProcess | undefined;
  let front: DnsFront | undefined;
  let frontPort = 0;
  let untrack: (() => void) | undefined;

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'us-front-unbound-'));
    untrack = track({ sweepSync: () => removeDirSync(dir) });
    const port = await freePort();
    const conf = loopbackUnboundConf(dir, port, [
      `proxy-protocol-port: ${port}`,
      'access-control: 127.0.0.0/8 refuse',
      'access-control: 127.0.0.1/32 allow',
      'access-control: 127.0.0.2/32 allow',
      'local-zone: "example.test." static',
      'local-data: "www.example.test. 300 IN A 192.0.2.7"',
      `local-data: "big.example.test. 300 IN TXT \\"${'x'.repeat(200)}\\""`,
      `local-data: "big.example.test. 300 IN TXT \\"${'y'.repeat(200)}\\""`,
      `local-data: "big.example.test. 300 IN TXT \\"${'z'.repeat(200)}\\""`,
    ]);
    const fd = openSync(join(dir, 'unbound.log'), 'a');
    unbound = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    const config = dnsFrontConfigSchema.parse({ listen: ['127.0.0.1:0'], upstream: `127.0.0.1:${port}`, upstreamTimeoutMs: 1000 });
    front = createDnsFront({ config, learnAnswer: undefined, logger: pino({ level: 'silent' }), registry: new Registry() });
    await front.start();
    frontPort = front.addresses().udp[0]?.port ?? 0;
    await waitFor('unbound answering through the front', async () => rcode(await udpFrom('127.0.0.2', frontPort, buildQuery({ id: 1, name: 'www.example.test', type: 1 }))) === 0, {
      timeoutMs: 10_000,
    });
  });

  after(async () => {
    await front?.stop();
    if (unbound) await stopChild(unbound);
    untrack?.();
    if (dir) removeDirSync(dir);
  });

  test("UDP: Unbound's access-control decides by the real client address carried in PROXYv2", async () => {
    const ok = await udpFrom('127.0.0.2', frontPort, buildQuery({ id: 0x4242, name: 'www.example.test', type: 1 }));
    assert.equal(rcode(ok), 0);
    assert.equal(ok?.readUInt16BE(0), 0x4242);
    assert.deepEqual([...(ok ?? Buffer.alloc(0)).subarray(-4)], [192, 0, 2, 7]);
    assert.equal(
      rcode(await udpFrom('127.0.0.3', frontPort, buildQuery({ id: 2, name: 'www.example.test', type: 1 }))),
      5,
      `REFUSED by Unbound: ${readFileSync(join(dir, 'unbound.log'), 'utf8').slice(-500)}`,
    );
  });

  test("UDP: an answer larger than the client's buffer comes back TC=1 as Unbound sent it; EDNS is passed through", async () => {
    const small = await udpFrom('127.0.0.2', frontPort, buildQuery({ id: 3, name: 'big.example.test', type: 16, edns: { udpSize: 512 } }));
    assert.ok(small && (small[2] as number) & 0x02, 'TC=1');
    const big = await udpFrom('127.0.0.2', frontPort, buildQuery({ id: 4, name: 'big.example.test', type: 16, edns: { udpSize: 4096 } }));
    assert.ok(big && ((big[2] as number) & 0x02) === 0 && big.length > 600, 'whole answer with a big buffer');
    assert.equal(big.readUInt16BE(10), 1, "Unbound's OPT record relayed");
  });

  test('TCP: pipelined queries, one PROXYv2 header per connection, access-control by the real address', async () => {
    const qs = [1, 2, 3].map((i) => buildQuery({ id: 10 + i, name: 'www.example.test', type: 1 }));
    const answers = await tcpFrom('127.0.0.2', frontPort, qs);
    assert.deepEqual(answers.map((a) => a.readUInt16BE(0)).sort(), [11, 12, 13]);
    assert.deepEqual(answers.map(rcode), [0, 0, 0]);
    const refused = await tcpFrom('127.0.0.3', frontPort, [buildQuery({ id: 20, name: 'www.example.test', type: 1 })]);
    assert.equal(rcode(refused[0]), 5);
  });

  test('Unbound stopped → SERVFAIL fast, never a hang', async () => {
    if (unbound) await stopChild(unbound);
    unbound = undefined;
    const t0 = performance.now();
    const r = await udpFrom('127.0.0.2', frontPort, buildQuery({ id: 30, name: 'www.example.test', type: 1 }));
    assert.equal(rcode(r), 2);
    assert.ok(performance.now() - t0 < 1900, 'within upstreamTimeoutMs');
    const [t] = await tcpFrom('127.0.0.2', frontPort, [buildQuery({ id: 31, name: 'www.example.test', type: 1 })]);
    assert.equal(rcode(t), 2, 'TCP too (connection refused)');
  });
});
