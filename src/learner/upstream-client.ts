import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { parseHostPort } from '../lib/net/host-port.js';
import { extractAnswers, type ResponseAnswers } from '../lib/dnstap/index.js';
import { writeQuery } from '../lib/dns-wire/query-writer.js';

/**
 * The proactive resolver's DNS client: one UDP socket for every query (ids matched, source
 * checked), TCP for truncated answers. Answers are read by the same `extractAnswers` the dnstap
 * path uses, so both paths see identical, typed addresses, CNAME links and TTLs.
 *
 * Why not dns2's UDPClient: it opens a socket per query (thousands of sockets at 200 qps with
 * 3 s timeouts), and returns its own untyped parse that would need narrowing into this shape again.
 */
export type QueryOutcome = { kind: 'answer'; answers: ResponseAnswers } | { kind: 'timeout' } | { kind: 'error'; error: string };

export interface UpstreamClient {
  query(name: string, qtype: number): Promise<QueryOutcome>;
  close(): void;
}

export function createUpstreamClient(upstream: string, timeoutMs: number): UpstreamClient {
  const hp = parseHostPort(upstream);
  if (!hp) throw new Error(`learner: bad upstream ${upstream}`);
  const { host, port } = hp;
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.unref();
  const pending = new Map<number, (msg: Uint8Array) => void>();
  socket.on('error', () => undefined); // per-query errors surface as timeouts
  socket.on('message', (msg, rinfo) => {
    if (rinfo.port !== port || msg.length < 12) return;
    pending.get(msg.readUInt16BE(0))?.(msg);
  });

  function viaTcp(query: Uint8Array): Promise<Uint8Array | undefined> {
    return new Promise((resolve) => {
      const s = connect({ host, port });
      const chunks: Buffer[] = [];
      const done = (v: Uint8Array | undefined): void => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(timeoutMs, () => done(undefined));
      s.on('error', () => done(undefined));
      s.on('connect', () => s.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query])));
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) done(all.subarray(2, 2 + all.readUInt16BE(0)));
      });
    });
  }

  return {
    query(name, qtype) {
      let id = randomInt(0, 65536);
      for (let i = 0; pending.has(id) && i < 16; i++) id = randomInt(0, 65536);
      if (pending.has(id)) return Promise.resolve({ kind: 'error', error: 'no free query id' });
      let q: Uint8Array;
      try {
        q = writeQuery(id, name, qtype);
      } catch (err) {
        return Promise.resolve({ kind: 'error', error: (err as Error).message });
      }
      const want = (name.endsWith('.') ? name : `${name}.`).toLowerCase();
      return new Promise<QueryOutcome>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ kind: 'timeout' });
        }, timeoutMs);
        const finish = (msg: Uint8Array | undefined): void => {
          if (msg === undefined) return resolve({ kind: 'timeout' });
          const r = extractAnswers(msg);
          resolve(r.kind === 'answers' ? { kind: 'answer', answers: r } : { kind: 'error', error: r.reason });
        };
        pending.set(id, (msg) => {
          const r = extractAnswers(msg);
          // A reply to another question with our id (spoofed or stale) is ignored, not accepted.
          if (r.kind === 'answers' && (r.question !== want || r.qtype !== qtype)) return;
          pending.delete(id);
          clearTimeout(timer);
          if (((msg[2] ?? 0) & 0x02) !== 0)
            void viaTcp(q).then(finish); // TC (RFC 1035 §4.2.1)
          else finish(msg);
        });
        socket.send(q, port, host, (err) => {
          if (err && pending.delete(id)) {
            clearTimeout(timer);
            resolve({ kind: 'error', error: err.message });
          }
        });
      });
    },
    close() {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}
