/**
 * Child for abuse.test.ts, run inside the router namespace: keeps `count` TCP connections to
 * 127.0.0.1:`port` that each announce a 65535-byte DNS message and then send one byte every
 * `everyMs` (a slow-loris client), reopening any the server closes, for `durationMs`; then exits.
 * Prints one JSON line with how many connections it opened and how many the server closed.
 */
import net from 'node:net';

const [port, count, everyMs, durationMs] = process.argv.slice(2).map(Number) as [number, number, number, number];
const end = Date.now() + durationMs;
let opened = 0;
let closedByServer = 0;
const live = new Set<net.Socket>();

function open(): void {
  if (Date.now() >= end) return;
  opened++;
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  live.add(s);
  const timer = setInterval(() => s.write(Buffer.from([0])), everyMs);
  s.on('connect', () => s.write(Buffer.from([0xff])));
  s.on('error', () => {});
  s.on('close', () => {
    clearInterval(timer);
    live.delete(s);
    if (Date.now() < end) {
      closedByServer++;
      setTimeout(open, 50); // come back, as an attacker would
    }
  });
}

for (let i = 0; i < count; i++) open();
setTimeout(() => {
  for (const s of live) s.destroy();
  process.stdout.write(`${JSON.stringify({ opened, closedByServer })}\n`);
}, durationMs);
