/**
 * The lab's probe: a long-lived process started inside a namespace (`ip netns exec NS node …`),
 * because Node cannot enter a network namespace itself. It reads JSON-line requests on stdin and
 * writes one JSON-line reply each, timing requests from its own side of the socket so latencies
 * do not include process start-up (which `ip netns exec kdig` would add: several ms).
 *
 * Requests run concurrently. See probe-client.ts for the typed API; not meant to be run by hand.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { randomInt } from 'node:crypto';
import { decodeMessage, encodeQuery, QTYPE, type DecodedMessage } from './dns-message.js';
import type { ConnectAttempt, ProbeReply, ProbeRequest, DnsRequest } from './probe-protocol.js';

function typeNumber(t: string | number): number {
  if (typeof t === 'number') return t;
  const n = QTYPE[t.toUpperCase()] ?? (/^TYPE(\d+)$/i.exec(t) ? Number(t.slice(4)) : undefined);
  if (n === undefined) throw new Error(`unknown type ${t}`);
  return n;
}

function udpExchange(req: DnsRequest, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const family = req.server.includes(':') ? 'udp6' : 'udp4';
    const sock = createSocket(family);
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    const id = packet.readUInt16BE(0);
    sock.on('message', (msg) => {
      if (msg.length < 2 || msg.readUInt16BE(0) !== id) return; // not ours: keep waiting (RFC 5452 §9.1)
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    const send = () => sock.send(packet, req.port, req.server);
    if (req.source !== undefined) sock.bind({ address: req.source, port: 0 }, send);
    else send();
  });
}

/** Writes every packet on one connection at once (RFC 7766 §6.2.1.1 pipelining) and resolves with as many replies, in arrival order. */
function tcpExchange(req: DnsRequest, packets: readonly Buffer[], timeoutMs: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: req.server, port: req.port, ...(req.source !== undefined ? { localAddress: req.source } : {}) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    let buf = Buffer.alloc(0);
    const replies: Buffer[] = [];
    sock.on('connect', () => {
      sock.write(
        Buffer.concat(
          packets.flatMap((p) => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(p.length);
            return [len, p];
          }),
        ),
      );
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (replies.length >= packets.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed after ${replies.length} of ${packets.length} replies`));
    });
  });
}

/**
 * All connections are opened synchronously, before any await, so each SYN leaves within the same
 * event-loop turn as the reply's decode — as a browser connecting at once would.
 */
function connectAll(msg: DecodedMessage, port: number, t0: bigint): Promise<ConnectAttempt[]> {
  const addrs = msg.answers.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => r.data);
  return Promise.all(
    addrs.map(
      (address) =>
        new Promise<ConnectAttempt>((resolve) => {
          const sock = connect({ host: address, port });
          const afterReplyMs = Number(process.hrtime.bigint() - t0) / 1e6;
          const done = (outcome: ConnectAttempt['outcome']) => {
            sock.destroy();
            resolve({ address, afterReplyMs, outcome });
          };
          sock.setTimeout(2000, () => done('error'));
          sock.on('connect', () => done('connected'));
          sock.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'error'));
        }),
    ),
  );
}

async function handleDns(req: DnsRequest): Promise<ProbeReply> {
  const firstId = req.qid ?? randomInt(0, 65536);
  const query = (id: number): Buffer =>
    encodeQuery({
      id,
      name: req.name,
      type: typeNumber(req.type),
      class: req.qclass ?? 1,
      rd: req.rd ?? true,
      ...(req.ednsUdpSize !== undefined ? { ednsUdpSize: req.ednsUdpSize } : {}),
    });
  const packet = query(firstId);
  const timeoutMs = req.timeoutMs ?? 5000;
  const t0 = process.hrtime.bigint();
  try {
    const copies = req.tcp ? Math.max(1, req.pipeline ?? 1) : 1;
    const tcpReplies = req.tcp
      ? await tcpExchange(
          req,
          Array.from({ length: copies }, (_, k) => query((firstId + k) & 0xffff)),
          timeoutMs,
        )
      : undefined;
    let raw = tcpReplies?.[0] ?? (await udpExchange(req, packet, timeoutMs));
    let retriedOverTcp = false;
    // TC=1 over UDP → ask again over TCP within what is left of the timeout (RFC 7766 §5).
    if (!req.tcp && (req.followTc ?? true) && raw.length >= 4 && (raw[2]! & 0x02) !== 0) {
      const left = timeoutMs - Number(process.hrtime.bigint() - t0) / 1e6;
      [raw = raw] = await tcpExchange(req, [packet], Math.max(1, left));
      retriedOverTcp = true;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const msg = decodeMessage(raw);
    const connects = req.connectPort === undefined ? undefined : await connectAll(msg, req.connectPort, process.hrtime.bigint());
    const pipelined = copies > 1 ? tcpReplies?.map((b) => b.toString('hex')) : undefined;
    return {
      id: req.id,
      ok: true,
      ms,
      msg,
      raw: req.raw ? raw.toString('hex') : undefined,
      ...(retriedOverTcp ? { retriedOverTcp } : {}),
      ...(connects ? { connects } : {}),
      ...(pipelined ? { pipelined } : {}),
    };
  } catch (err) {
    return { id: req.id, ok: false, ms: Number(process.hrtime.bigint() - t0) / 1e6, error: (err as Error).message };
  }
}

async function handle(req: ProbeRequest): Promise<ProbeReply> {
  switch (req.op) {
    case 'dns':
      return handleDns(req);
    case 'http': {
      const t0 = process.hrtime.bigint();
      try {
        const res = await fetch(req.url, { signal: AbortSignal.timeout(req.timeoutMs ?? 2000) });
        const body = await res.text();
        return { id: req.id, ok: true, ms: Number(process.hrtime.bigint() - t0) / 1e6, status: res.status, body };
      } catch (err) {
        return { id: req.id, ok: false, ms: Number(process.hrtime.bigint() - t0) / 1e6, error: (err as Error).message };
      }
    }
    default: {
      const never: never = req;
      return { id: (never as { id: number }).id, ok: false, ms: 0, error: 'unknown op' };
    }
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: ProbeRequest;
  try {
    req = JSON.parse(line) as ProbeRequest;
  } catch {
    return;
  }
  void handle(req)
    .catch((err: unknown) => ({ id: req.id, ok: false as const, ms: 0, error: String(err) }))
    .then((reply) => process.stdout.write(`${JSON.stringify(reply)}\n`));
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
