/**
 * A TCP client that pipelines thousands of queries to the front and never reads an answer. Once
 * the kernel's buffers are full, every further answer the front writes stays in the daemon
 * (Node's socket write buffer, `writableLength`): without a cap that grows with every query the
 * client sends. The namespaces get small TCP buffers (`net.ipv4.tcp_wmem`/`tcp_rmem`, per network
 * namespace) so that point comes after kilobytes, not after the host's 4 MB `tcp_wmem` maximum
 * (on plain loopback the kernel absorbed a whole flood). The front's unsent bytes are read from
 * its gauge; the slow reader never reads, so they only grow until the front stops them.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { createLab, type Lab } from '../lab/lab.js';
import { labSkip } from '../lab/prereqs.js';
import type { Sidecar } from '../lab/sidecar.js';
import { sleep, waitFor } from '../lab/wait.js';
import { childScript, smallTcpBuffers, startFrontSidecar, startProxiedUnbound, STATIC_ZONE } from '../helpers/front-netns.js';
import { metric } from './lab-dns.js';

const CAP = 64 * 1024;
/** The largest DNS message and its length prefix: what one write may add past the cap. */
const ONE_MESSAGE = 65_535 + 2;
const SMALL = `a.${STATIC_ZONE}`;
/** 40 TXT records of 100 bytes: ~4.5 KB answers, so 64 in flight are more than the cap. */
const BIG = `big.${STATIC_ZONE}`;
/** 3 of them: ~340 bytes. */
const MEDIUM = `medium.${STATIC_ZONE}`;
const txt = (name: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${name}. 300 IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`);
const LOCAL_DATA = [`${SMALL}. 300 IN A 192.0.2.1`, `ok.${STATIC_ZONE}. 300 IN A 192.0.2.2`, ...txt(BIG, 40), ...txt(MEDIUM, 3)];

describe('DNS front: a TCP client that never reads its answers', { skip: labSkip({ sidecar: true }), timeout: 120_000 }, () => {
  let lab: Lab;
  let sidecar: Sidecar;
  const readers: ChildProcess[] = [];
  const unsent = () => metric(lab, sidecar, 'unbound_sidecar_dns_front_tcp_unsent_bytes');
  const slow = (action: string) => metric(lab, sidecar, 'unbound_sidecar_dns_front_tcp_slow_readers_total', `action="${action}"`);

  /** Starts a slow reader in the LAN namespace; resolves once it is connected, with a flag set when the front closes it. */
  const slowReader = async (
    count: number,
    name: string,
    type: number,
    o: { readAfterMs?: number; halfClose?: boolean } = {},
  ): Promise<{ closed: () => boolean; answered: () => boolean; kill: () => void }> => {
    const args = [lab.routerIp, '53', String(count), name, String(type), String(o.readAfterMs ?? '-'), o.halfClose ? 'end' : ''];
    const child = lab.lan.spawn([...childScript(import.meta.url, 'slow-reader-client'), ...args]);
    readers.push(child);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => process.stderr.write(`[slow-reader] ${d}`));
    let connected = false;
    let closed = false;
    let answered = false;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      connected ||= l.includes('"connected"');
      closed ||= l.includes('"closedByServer"');
      answered ||= l.includes('"answers"');
    });
    await waitFor('the slow reader connected', () => {
      if (child.exitCode !== null) throw new Error(`slow reader exited ${child.exitCode}`);
      return connected;
    });
    return { closed: () => closed, answered: () => answered, kill: () => child.kill('SIGKILL') };
  };

  /** Samples the unsent gauge every 100 ms until it has not grown for 1.5 s (the slow reader only adds); returns the largest sample. */
  const settledMax = async (): Promise<number> => {
    let max = 0;
    let since = Date.now();
    for (const end = Date.now() + 30_000; Date.now() < end && Date.now() - since < 1500; ) {
      const v = await unsent();
      if (v > max) (max = v), (since = Date.now());
      await sleep(100);
    }
    return max;
  };

  before(async () => {
    lab = await createLab();
    // Small buffers on both ends: the front's send buffer (router) and the reader's receive window (LAN).
    for (const ns of ['router', 'lan'] as const) await smallTcpBuffers(lab, ns, '4096 4096 16384');
    await startProxiedUnbound(lab, LOCAL_DATA, ['10.77.0.0/24']);
    sidecar = await startFrontSidecar(lab, { listen: [`${lab.routerIp}:53`], tcpMaxBufferedBytes: CAP, tcpIdleTimeoutMs: 60_000 });
    const r = await lab.dns('lan', { server: lab.routerIp, port: 53, name: SMALL, type: 'A', tcp: true });
    assert.ok(r.ok && r.msg.rcode === 'NOERROR', `the front answers over TCP: ${JSON.stringify(r)}`);
  });
  after(async () => {
    for (const c of readers) c.kill('SIGKILL');
    await sidecar?.stop();
    await lab?.teardown();
  });

  test('20000 pipelined queries, never read: the front stops reading that client, its unsent answers stay within the cap; other clients are answered at once', async (t) => {
    const paused = await slow('paused');
    const reader = await slowReader(20_000, SMALL, 1);
    const max = await settledMax();
    t.diagnostic(`unsent answer bytes held for the slow reader: at most ${max} (cap ${CAP}; all 20000 answers are ~940 kB)`);
    assert.ok(max > 0, 'the kernel buffers filled and the front held answers (else this test measures nothing)');
    assert.ok(max <= CAP + ONE_MESSAGE, `unsent ${max} bytes > cap ${CAP} + one message`);
    assert.ok((await slow('paused')) > paused, 'counted as a slow reader (paused)');
    // While that connection sits paused, a normal client on TCP and on UDP.
    for (const tcp of [true, false]) {
      const r = await lab.dns('lan', { server: lab.routerIp, port: 53, name: `ok.${STATIC_ZONE}`, type: 'A', tcp, timeoutMs: 2000 });
      assert.ok(r.ok, `${tcp ? 'TCP' : 'UDP'} client answered: ${JSON.stringify(r)}`);
      assert.equal(r.msg.rcode, 'NOERROR');
      assert.ok(r.ms < 1000, `${tcp ? 'TCP' : 'UDP'} answer took ${r.ms.toFixed(0)} ms`);
    }
    assert.ok((await unsent()) <= CAP + ONE_MESSAGE, 'still bounded');
    reader.kill();
    await waitFor('the front let go of the slow reader', async () => (await unsent()) === 0);
  });

  test('a client that reads late is held back, not dropped: once it reads, every one of its 5000 answers arrives', async () => {
    const paused = await slow('paused');
    const reader = await slowReader(5000, SMALL, 1, { readAfterMs: 2000 });
    await waitFor('the front paused the late reader', async () => (await slow('paused')) > paused, { timeoutMs: 2000 });
    await waitFor('all 5000 answers read', () => reader.answered(), { timeoutMs: 15_000 });
    assert.equal(reader.closed(), false);
    reader.kill();
  });

  test('a client that sends its queries, half-closes and reads slowly: every answer, also to queries still queued when the front saw the FIN', async () => {
    // ~340-byte answers: 64 in flight fit in the half of the cap above the read limit (no close).
    // The FIN comes with the last chunk the front reads, hundreds of queries in it; the answers
    // to those in flight then leave more than the read limit unsent — the rest must still be taken.
    const reader = await slowReader(2000, MEDIUM, 16, { readAfterMs: 1000, halfClose: true });
    await waitFor('half the cap unsent: the front holds queries back', async () => (await unsent()) >= CAP / 2, { timeoutMs: 2000 });
    await waitFor('all 2000 answers read', () => reader.answered() || reader.closed(), { timeoutMs: 20_000 });
    assert.ok(reader.answered(), 'closed by the front before every answer was sent');
    reader.kill();
  });

  test('answers too big for the headroom (64 in flight × 4.5 KB): the connection is closed at the cap, never holding more', async (t) => {
    const closed = await slow('closed');
    const reader = await slowReader(2000, BIG, 16);
    const max = await settledMax();
    t.diagnostic(`unsent answer bytes sampled before the close: at most ${max} (cap ${CAP})`);
    assert.ok(max <= CAP + ONE_MESSAGE, `unsent ${max} bytes > cap ${CAP} + one message`);
    await waitFor('the front closed the slow reader', () => reader.closed(), { timeoutMs: 5000 });
    assert.ok((await slow('closed')) > closed, 'counted as a slow reader (closed)');
    const r = await lab.dns('lan', { server: lab.routerIp, port: 53, name: BIG, type: 'TXT', tcp: true, timeoutMs: 2000 });
    assert.ok(r.ok && r.msg.rcode === 'NOERROR' && r.msg.answers.length === 40, 'a client that reads gets the same answer');
  });
});
