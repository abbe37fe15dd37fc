import dgram from 'node:dgram';
import net from 'node:net';
import { Packet } from 'dns2';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDnsServer, type DnsServer, type DnsServerOptions } from '../../src/dns-server/index.js';

/**
 * Test-side DNS plumbing that does not reuse the code under test: queries are assembled by hand
 * here, replies are decoded with dns2's `Packet.parse` (fine for trusted, small replies).
 */

export interface QuerySpec {
  id?: number;
  name: string;
  type: number;
  qclass?: number;
  rd?: boolean;
  opcode?: number;
  /** Add an OPT with this UDP size. */
  edns?: { udpSize: number; version?: number; do?: boolean };
}

export function buildQuery(q: QuerySpec): Buffer {
  const labels = q.name.split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id ?? 0x1234, 0);
  header[2] = ((q.opcode ?? 0) << 3) | (q.rd === false ? 0 : 1);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(q.edns ? 1 : 0, 10);
  parts.push(header);
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(q.type, 1);
  tail.writeUInt16BE(q.qclass ?? 1, 3);
  parts.push(tail);
  if (q.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(q.edns.udpSize, 3);
    opt[6] = q.edns.version ?? 0;
    opt[7] = q.edns.do ? 0x80 : 0;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export type Reply = ReturnType<typeof Packet.parse>;

export function decode(buf: Buffer): Reply {
  return Packet.parse(buf);
}

/** One UDP exchange; resolves with the raw reply, or undefined after `timeoutMs`. */
/** `from`: the source address to bind (another loopback address is another client). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 1000, from?: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    if (from !== undefined) sock.bind(0, from);
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, timeoutMs);
    sock.on('message', (data) => {
      clearTimeout(timer);
      sock.close();
      resolve(data);
    });
    sock.send(msg, port, '127.0.0.1');
  });
}

/** Send `msgs` on one TCP connection, read `expect` length-prefixed replies. */
export function tcpExchange(port: number, msgs: Buffer[], expect = msgs.length, timeoutMs = 2000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: got ${replies.length} of ${expect} replies`));
    }, timeoutMs);
    sock.on('connect', () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        sock.write(Buffer.concat([len, m]));
      }
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export const silentLogger = pino({ level: 'silent' });

/** A started server on 127.0.0.1:0 with defaults a test can override. */
export async function startServer(overrides: Partial<DnsServerOptions> & Pick<DnsServerOptions, 'resolve'>): Promise<{ server: DnsServer; port: number; registry: Registry }> {
  const registry = new Registry();
  const server = createDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: ['local.', '77.10.in-addr.arpa.'],
    negativeTtl: 30,
    tcpIdleTimeoutMs: 2000,
    maxTcpConnections: 64,
    udpHandoffMs: 25,
    logger: silentLogger,
    registry,
    ...overrides,
  });
  await server.start();
  const port = server.addresses().udp[0]?.port;
  if (port === undefined) throw new Error('no udp address');
  return { server, port, registry };
}

export function a(ip: string): Uint8Array {
  return Uint8Array.from(ip.split('.').map(Number));
}
