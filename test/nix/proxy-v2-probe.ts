/**
 * Run inside a test's network namespace (`ip netns exec NS node proxy-v2-probe.js …`): one UDP DNS
 * query to 127.0.0.1:PORT, optionally behind a PROXYv2 header claiming a client address, as the
 * DNS front sends it; prints the decoded reply as JSON, or {"timeout":true}.
 *   node proxy-v2-probe.js PORT CLIENT|none NAME
 * The header is written here from the specification, not taken from src/ (the tests must not
 * trust the code they test): https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt §2.2 —
 * the 12-byte signature, 0x21 (version 2, PROXY), 0x12 (AF_INET, SOCK_DGRAM) or 0x22 (AF_INET6),
 * the address block length, then source and destination address and port.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { decodeMessage, encodeQuery, QTYPE } from '../lab/dns-message.js';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipBytes(ip: string): Buffer {
  if (!isIPv6(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** A PROXYv2 header for a UDP datagram from `client`:40000 to `server`:53. */
export function proxyV2Header(client: string, server: string): Buffer {
  const v6 = isIPv6(client);
  const src = ipBytes(client);
  const dst = ipBytes(server);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(40000, 0);
  ports.writeUInt16BE(53, 2);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(src.length * 2 + 4, 0);
  return Buffer.concat([SIGNATURE, Buffer.from([0x21, v6 ? 0x22 : 0x12]), len, src, dst, ports]);
}

async function main(): Promise<void> {
  const [port, client, name] = process.argv.slice(2);
  if (port === undefined || client === undefined || name === undefined) throw new Error('usage: proxy-v2-probe PORT CLIENT|none NAME');
  const query = encodeQuery({ id: 0x5151, name, type: QTYPE.A ?? 1 });
  const packet = client === 'none' ? query : Buffer.concat([proxyV2Header(client, isIPv6(client) ? 'fd01::1' : '10.77.0.1'), query]);
  const sock = createSocket('udp4');
  const reply = await new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 1500);
    sock.on('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    sock.send(packet, Number(port), '127.0.0.1');
  });
  sock.close();
  if (reply === undefined) {
    process.stdout.write(JSON.stringify({ timeout: true }));
    return;
  }
  const m = decodeMessage(reply);
  process.stdout.write(JSON.stringify({ rcode: m.rcode, answers: m.answers.map((a) => a.data) }));
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
