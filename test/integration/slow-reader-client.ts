/**
 * Child for front-slow-reader.test.ts, run in the LAN namespace: one TCP connection to
 * `host`:`port` that pipelines `count` queries for `name` (type `type`) and never reads an answer
 * (the socket is paused: Node reads one high-water mark into its buffer, then stops) — or, with
 * `readAfterMs` (`-`: never), starts reading after that long, slowly (a pause after each chunk); with `end`, half-closes after the
 * queries (the last it sends is a FIN, as a client with nothing more to ask). Prints `{"connected":true}` once connected,
 * `{"answers":N}` when N = `count` answers were read, and `{"closedByServer":true}` if the server
 * closes it; runs until killed.
 */
import net from 'node:net';

const [host = '', portText = '', countText = '', name = '', typeText = '1', readAfterText = '-', end = ''] = process.argv.slice(2);
const count = Number(countText);

function query(id: number): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  const body = Buffer.concat([
    Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'latin1')]),
    Buffer.from([0, 0, Number(typeText), 0, 1]),
  ]);
  return Buffer.concat([Buffer.from([body.length >> 8, body.length & 255]), body]);
}

const s = net.connect({ host, port: Number(portText) });
s.pause();
s.on('error', () => {});
s.on('connect', () => {
  process.stdout.write(`${JSON.stringify({ connected: true })}\n`);
  // One write per 1000 queries: the front sees a stream of full segments, as from a real pipeliner.
  for (let i = 0; i < count; i += 1000) s.write(Buffer.concat(Array.from({ length: Math.min(1000, count - i) }, (_, k) => query((i + k) & 0xffff))));
  if (end === 'end') s.end();
});
if (readAfterText !== '-') {
  let answers = 0;
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    // A slow reader: one chunk, then a pause (at most ~16 KiB per 50 ms with the lab's small buffers).
    s.pause();
    setTimeout(() => s.resume(), 50);
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      if (++answers === count) process.stdout.write(`${JSON.stringify({ answers })}\n`);
    }
  });
  setTimeout(() => s.resume(), Number(readAfterText));
}
s.on('close', () => process.stdout.write(`${JSON.stringify({ closedByServer: true })}\n`));
setInterval(() => undefined, 60_000);
