import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import { Registry } from 'prom-client';
import { isSidecarError } from '../../src/errors.js';
import { createHttpServer } from '../../src/http/index.js';

/** Each errno of listen(2) gets the hint that fits it, not "another process?" for all of them. */

const logger = pino({ level: 'silent' });
const server = (host: string, port: number) => createHttpServer({ host, port, registry: new Registry(), logger, readiness: [] });

async function failure(host: string, port: number): Promise<string> {
  const s = server(host, port);
  try {
    await s.start();
  } catch (err) {
    assert.ok(isSidecarError(err, 'LISTEN_FAILED'));
    return err.message;
  }
  await s.stop();
  throw new Error(`listening on ${host}:${port} unexpectedly worked`);
}

test('EADDRINUSE: another process', async () => {
  const first = server('127.0.0.1', 0);
  await first.start();
  try {
    const msg = await failure('127.0.0.1', first.address().port);
    assert.match(msg, /EADDRINUSE/);
    assert.match(msg, /another process already listens there/);
  } finally {
    await first.stop();
  }
});

test('EADDRNOTAVAIL: the address is not on this host', async () => {
  // TEST-NET-1 (RFC 5737) is on no interface here; bind(2) fails locally, nothing is sent.
  const msg = await failure('192.0.2.1', 0);
  assert.match(msg, /EADDRNOTAVAIL/);
  assert.match(msg, /not configured on any interface of this host/);
  assert.doesNotMatch(msg, /another process/);
});

test('EACCES: a privileged port needs CAP_NET_BIND_SERVICE or a port of 1024 or more', { skip: process.getuid?.() !== 0 && 'needs root to drop CAP_NET_BIND_SERVICE with setpriv' }, async () => {
  // setpriv drops the capability from the bounding set, so the node it execs cannot bind port 81.
  const mod = pathToFileURL(new URL('../../src/http/index.js', import.meta.url).pathname).href;
  const script = `
    import pino from 'pino'; import { Registry } from 'prom-client';
    const { createHttpServer } = await import(${JSON.stringify(mod)});
    const s = createHttpServer({ host: '127.0.0.1', port: 81, registry: new Registry(), logger: pino({ level: 'silent' }), readiness: [] });
    try { await s.start(); console.log('LISTENING'); await s.stop(); } catch (err) { console.log(err.message); }`;
  const { stdout } = await promisify(execFile)('setpriv', ['--bounding-set=-net_bind_service', '--inh-caps=-net_bind_service', process.execPath, '--input-type=module', '-e', script], {
    cwd: process.cwd(),
  });
  assert.match(stdout, /EACCES/);
  assert.match(stdout, /CAP_NET_BIND_SERVICE/);
  assert.match(stdout, /1024/);
  assert.doesNotMatch(stdout, /another process/);
});
