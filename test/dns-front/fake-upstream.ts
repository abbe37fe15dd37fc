import dgram from 'node:dgram';
import net from 'node:net';

/**
 * A stand-in for Unbound with `proxy-protocol-port` on loopback, for tests about the front's own
 * logic: it strips and records each PROXYv2 header (parsed here by hand, independently of
 * src/lib/net/proxy-v2.ts) and answers with the query turned into a response. `behave` decides per
 * question name: 'answer', 'tc' (TC=1), 'silent', 'reverse' (TCP: hold and answer in reverse), or
 * 'stale' (UDP: first a late answer to another question under the same ID, then the real one).
 */

export interface SeenProxy {
  transport: 'udp' | 'tcp';
  family: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
}

export interface FakeUpstream {
  port: number;
  seen: SeenProxy[];
  /** Query IDs as they reached the upstream. */
  ids: number[];
  tcpConnections: number;
  /** Sizes the UDP socket's receive buffer (SO_RCVBUF, capped by net.core.rmem_max). */
  setUdpReceiveBuffer(bytes: number): void;
  close(): Promise<void>;
}

export function qname(msg: Buffer, at = 12): string {
  const labels: string[] = [];
  for (let i = at; i < msg.length && msg[i] !== 0; i += (msg[i] as number) + 1) labels.push(msg.subarray(i + 1, i + 1 + (msg[i] as number)).toString('latin1'));
  return labels.join('.');
}

function parseProxy(buf: Buffer): { proxy: SeenProxy; rest: Buffer } | undefined {
  const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  if (buf.length < 16 || !buf.subarray(0, 12).equals(sig) || buf[12] !== 0x21) return undefined;
  const fam = buf[13] as number;
  const len = buf.readUInt16BE(14);
  const a = buf.subarray(16, 16 + len);
  const v4 = fam >> 4 === 1;
  const ip = (b: Buffer) => (v4 ? [...b].join('.') : ipv6Text(b));
  const al = v4 ? 4 : 16;
  const proxy: SeenProxy = {
    transport: (fam & 0x0f) === 1 ? 'tcp' : 'udp',
    family: fam,
    src: ip(a.subarray(0, al)),
    dst: ip(a.subarray(al, 2 * al)),
    srcPort: a.readUInt16BE(2 * al),
    dstPort: a.readUInt16BE(2 * al + 2),
  };
  return { proxy, rest: buf.subarray(16 + len) };
}

function ipv6Text(b: Buffer): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16));
  return g.join(':');
}

export function respond(q: Buffer, tc = false): Buffer {
  const r = Buffer.from(q);
  r[2] = ((q[2] as number) | 0x80 | (tc ? 0x02 : 0)) & 0xff;
  r[3] = 0x80; // RA, NOERROR
  return r;
}

export async function startFakeUpstream(behave: (name: string) => 'answer' | 'tc' | 'silent' | 'reverse' | 'stale' = () => 'answer', proxied = true): Promise<FakeUpstream> {
  const seen: SeenProxy[] = [];
  const ids: number[] = [];
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (buf, rinfo) => {
    let q: Buffer = buf;
    if (proxied) {
      const p = parseProxy(buf);
      if (!p) return;
      seen.push(p.proxy);
      q = p.rest;
    }
    ids.push(q.readUInt16BE(0));
    const b = behave(qname(q));
    if (b === 'silent') return;
    if (b === 'stale') {
      const other = respond(q);
      other[13] = 0x78; // the first letter of the name: 'x' — the answer to a query that timed out
      udp.send(other, rinfo.port, rinfo.address);
      setTimeout(() => udp.send(respond(q), rinfo.port, rinfo.address), 20);
      return;
    }
    udp.send(respond(q, b === 'tc'), rinfo.port, rinfo.address);
  });
  const state = { tcpConnections: 0 };
  const tcp = net.createServer((s) => {
    state.tcpConnections++;
    let buf: Buffer = Buffer.alloc(0);
    let headerDone = !proxied;
    const held: Buffer[] = [];
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (!headerDone) {
        const p = parseProxy(buf);
        if (!p) return;
        seen.push(p.proxy);
        buf = p.rest;
        headerDone = true;
      }
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        ids.push(q.readUInt16BE(0));
        const b = behave(qname(q));
        if (b === 'silent') continue;
        const r = respond(q, b === 'tc');
        const framed = Buffer.concat([Buffer.from([r.length >> 8, r.length & 255]), r]);
        if (b === 'reverse') {
          held.push(framed);
          if (held.length === 3) for (const h of held.reverse()) s.write(h);
          continue;
        }
        s.write(framed);
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    seen,
    ids,
    get tcpConnections() {
      return state.tcpConnections;
    },
    setUdpReceiveBuffer: (bytes) => udp.setRecvBufferSize(bytes),
    close: () =>
      new Promise<void>((r) => {
        udp.close();
        tcp.close(() => r());
      }),
  };
}
