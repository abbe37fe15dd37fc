/**
 * The front lab's "internet": an authoritative server for `example.` that hands every new name a
 * new address, so each query of a fresh name is a first connection to an address nobody has
 * learned yet. Runs inside the authority namespace (`node fixture-authority.js ZONEFILE`), answers
 * DNS on UDP and TCP port 53 and serves the learning list over HTTP on port 8080 (`GET /domains`),
 * so the sidecar in the router namespace downloads it the way it downloads a registry.
 *
 *   <anything>.listed.example, <anything>.wild.example, <anything>.xn--e1afmkfd.example,
 *   <anything>.unlisted.example   A  45.64.0.0 + k, AAAA 2a00:1450:4001::k  (k = order of first ask)
 *   <n>.alias.listed.example      CNAME <n>.hop.cdn.example CNAME <n>.edge.cdn.example, then its A/AAAA
 *   anything else                 NXDOMAIN with the zone's SOA (RFC 2308 §3)
 *
 * One line per answered name goes to stdout (`{"name":…,"address":…}`) for tests that need to know
 * what was handed out. Not meant to be run by hand.
 */
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as packet from 'dns-packet';

export const AUTHORITY_TTL = 300;
const ZONE = 'example';
const SOA: packet.Answer = { name: ZONE, type: 'SOA', ttl: 60, data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: 60 } };
const ADDRESSED = /(^|\.)(listed|wild|xn--e1afmkfd|unlisted|cdn)\.example$/;
const ALIAS = /^([^.]+)\.alias\.listed\.example$/;
const HOP = /^([^.]+)\.hop\.cdn\.example$/;

function cnameOf(name: string): string | undefined {
  const alias = ALIAS.exec(name);
  if (alias) return `${alias[1]}.hop.cdn.example`;
  const hop = HOP.exec(name);
  return hop ? `${hop[1]}.edge.cdn.example` : undefined;
}

/** The k-th fresh address of each family: public space, unique per name (up to 4M names). */
export function freshAddress(k: number, family: 4 | 6): string {
  return family === 4 ? `45.${64 + ((k >>> 16) & 63)}.${(k >>> 8) & 255}.${k & 255}` : `2a00:1450:4001::${k.toString(16)}`;
}

const order = new Map<string, number>();
function indexOf(name: string): number {
  let k = order.get(name);
  if (k === undefined) {
    k = order.size + 1;
    order.set(name, k);
  }
  return k;
}

function answer(query: packet.Packet): Buffer {
  const q = query.questions?.[0];
  const base = { id: query.id ?? 0, type: 'response' as const, flags: packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED), questions: query.questions ?? [] };
  if (!q) return packet.encode({ ...base, flags: base.flags | 1 });
  const answers: packet.Answer[] = [];
  // Every name of a chain answers the rest of it, so the chain is the same whichever link a
  // resolver asks for (Unbound may re-ask a CNAME target on its own).
  let owner = q.name.toLowerCase();
  for (let next = cnameOf(owner); next !== undefined; next = cnameOf(owner)) {
    answers.push({ name: owner, type: 'CNAME', ttl: AUTHORITY_TTL, data: next });
    owner = next;
  }
  if (answers.length === 0 && !ADDRESSED.test(owner)) {
    return packet.encode({ ...base, flags: base.flags | 3, authorities: [SOA] }); // NXDOMAIN
  }
  if (q.type === 'A' || q.type === 'AAAA') {
    const address = freshAddress(indexOf(owner), q.type === 'A' ? 4 : 6);
    answers.push({ name: owner, type: q.type, ttl: AUTHORITY_TTL, data: address });
    process.stdout.write(`${JSON.stringify({ name: q.name, type: q.type, address })}\n`);
  }
  return packet.encode({ ...base, answers, ...(answers.length === 0 ? { authorities: [SOA] } : {}) });
}

function decode(buf: Buffer): packet.Packet | undefined {
  try {
    return packet.decode(buf);
  } catch {
    return undefined;
  }
}

function serveTcp(sock: Socket): void {
  let buf = Buffer.alloc(0);
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const q = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      if (!q) return void sock.destroy();
      const out = answer(q);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      sock.write(Buffer.concat([len, out]));
    }
  });
}

function main(): void {
  const domains = process.argv.slice(2);
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const q = decode(msg);
    if (q) udp.send(answer(q), rinfo.port, rinfo.address);
  });
  const tcp = createTcpServer(serveTcp);
  const http = createHttpServer((req, res) => {
    if (req.url !== '/domains') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(domains));
  });
  let pending = 3;
  const ready = () => {
    if (--pending === 0) process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  };
  udp.bind(53, ready);
  tcp.listen(53, ready);
  http.listen(8080, ready);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
