/**
 * Real Unbound (Debian's build has --enable-dnstap) writing dnstap to our server over a unix socket.
 * Both Unbounds run in a throwaway network namespace with only `lo`, so their ports cannot collide
 * with anything on the host; the socket is a file, which namespaces do not separate.
 *
 *   kdig → resolver 127.0.0.1:53 (dnstap on) → stub-zone example.test. → "internet" 127.0.0.1:5301
 *
 * The "internet" Unbound serves the CNAME chain and addresses as local-data, so the resolver's
 * CLIENT_RESPONSE carries a real recursion result with TTLs counted down from its cache.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { extractAnswers, namesLeadingTo, startDnstapServer, type ConnectionEnd, type DnstapMessage, type DnstapServer, type ResponseAnswers } from '../../src/lib/dnstap/index.js';
import { labSkip } from '../lab/prereqs.js';
import { deleteNetnsSync, removeDirSync, stopChild, track } from '../lab/reaper.js';
import { waitFor } from '../lab/wait.js';
import { loopbackUnboundConf as server } from '../lab/loopback-unbound.js';

const skip = labSkip();
const NS = `usd-${process.pid}`;

interface Seen {
  readonly conn: number;
  readonly msg: DnstapMessage;
}

describe('dnstap from a real Unbound', { skip }, () => {
  let dir: string;
  let dnstap: DnstapServer;
  const seen: Seen[] = [];
  const ends: ConnectionEnd[] = [];
  const children: ChildProcess[] = [];
  let resolver: ChildProcess | undefined;
  let resolverConf: string;
  let untrack: (() => void) | undefined;

  const inNs = (cmd: readonly string[]) => spawnSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8', timeout: 10_000 });
  const start = (conf: string, log: string): ChildProcess => {
    const fd = openSync(join(dir, log), 'a');
    const child = spawn('ip', ['netns', 'exec', NS, 'unbound', '-d', '-c', conf], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    children.push(child);
    return child;
  };
  const ready = (port: number) =>
    waitFor(`unbound on ${port}`, () => inNs(['kdig', '@127.0.0.1', '-p', String(port), '+timeout=1', '+retry=0', 'version.server', 'CH', 'TXT']).stdout.includes('NOERROR'));
  const dig = (name: string, type: string): string => {
    const r = inNs(['kdig', '@127.0.0.1', '-p', '53', '+timeout=2', '+retry=0', name, type]);
    assert.equal(r.status, 0, `kdig ${name} ${type}: ${r.stderr}`);
    return r.stdout;
  };
  /** The first CLIENT_RESPONSE for `name`/`qtype` seen after index `from`. */
  const clientResponse = (name: string, qtype: number, from: number, timeoutMs = 5000) =>
    waitFor(
      `CLIENT_RESPONSE for ${name}`,
      () => {
        for (const s of seen.slice(from)) {
          if (s.msg.type !== 'CLIENT_RESPONSE' || s.msg.responseMessage === undefined) continue;
          const a = extractAnswers(s.msg.responseMessage);
          if (a.kind === 'answers' && a.question === name && a.qtype === qtype) return { seen: s, answers: a };
        }
        return undefined;
      },
      { timeoutMs },
    );

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'us-dnstap-lab-'));
    untrack = track({
      sweepSync: () => {
        deleteNetnsSync(NS);
        removeDirSync(dir);
      },
    });
    assert.equal(spawnSync('ip', ['netns', 'add', NS]).status, 0, 'ip netns add');
    assert.equal(spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']).status, 0, 'lo up');
    dnstap = await startDnstapServer({
      socketPath: join(dir, 'dnstap.sock'),
      onMessage: (msg, conn) => seen.push({ conn, msg }),
      hooks: { connectionClosed: (_id, end) => ends.push(end) },
    });
    const internet = server(dir, 5301, [
      'local-zone: "example.test." static',
      'local-data: "www.example.test. 300 IN CNAME edge.example.test."',
      'local-data: "edge.example.test. 120 IN CNAME e1.cdn.example.test."',
      'local-data: "e1.cdn.example.test. 60 IN A 203.0.113.7"',
      'local-data: "e1.cdn.example.test. 60 IN AAAA 2001:db8::7"',
      'local-data: "apex.example.test. 3600 IN A 198.51.100.1"',
    ]);
    resolverConf = server(
      dir,
      53,
      [
        'do-not-query-localhost: no',
        'domain-insecure: "test."',
        // Unbound serves the RFC 6761 names (test., invalid., …) as empty static zones by default.
        'local-zone: "test." nodefault',
        'local-zone: "direct.test." static',
        'local-data: "a.direct.test. 90 IN A 192.0.2.55"',
      ],
      [
        'stub-zone:',
        '  name: "example.test."',
        '  stub-addr: 127.0.0.1@5301',
        'dnstap:',
        '  dnstap-enable: yes',
        `  dnstap-socket-path: "${dnstap.socketPath}"`,
        '  dnstap-send-identity: yes',
        '  dnstap-identity: "lab-resolver"',
        '  dnstap-log-client-response-messages: yes',
        '',
      ].join('\n'),
    );
    start(internet, 'internet.log');
    await ready(5301);
    resolver = start(resolverConf, 'resolver.log');
    await ready(53);
    await waitFor('Unbound connects to the dnstap socket', () => dnstap.counters().connectionsOpen === 1);
  });

  after(async () => {
    if (skip) return;
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM', 2000)));
    await dnstap?.close();
    deleteNetnsSync(NS);
    removeDirSync(dir);
    untrack?.();
  });

  const logs = (): string => ['resolver.log', 'internet.log'].map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-2000)}`).join('\n');

  test('A through a CNAME chain: question, chain links, address and TTLs', async () => {
    const from = seen.length;
    assert.match(dig('www.example.test', 'A'), /203\.0\.113\.7/, logs());
    const { seen: s, answers } = await clientResponse('www.example.test.', 1, from);
    assert.equal(s.msg.identity, 'lab-resolver');
    assert.equal(s.msg.socketFamily, 'INET');
    assert.ok((s.msg.responseTimeMs ?? 0) > Date.now() - 60_000, 'response time is now-ish');
    assertChain(answers);
    const [a] = answers.addresses;
    assert.deepEqual([a?.owner, a?.family, a?.address], ['e1.cdn.example.test.', 'ipv4', '203.0.113.7']);
    assert.ok(a !== undefined && a.ttl <= 60 && a.ttl >= 55, `TTL ${a?.ttl}`);
    assert.deepEqual(namesLeadingTo(a.owner, answers.cnames), ['e1.cdn.example.test.', 'edge.example.test.', 'www.example.test.']);
  });

  test('AAAA through the same chain, now from the resolver cache (TTLs counted down, chain intact)', async () => {
    const from = seen.length;
    dig('www.example.test', 'AAAA');
    const { answers } = await clientResponse('www.example.test.', 28, from);
    assertChain(answers);
    assert.deepEqual(
      answers.addresses.map((x) => [x.family, x.address]),
      [['ipv6', '2001:db8::7']],
    );
    const cached = seen.length;
    dig('www.example.test', 'A');
    const again = await clientResponse('www.example.test.', 1, cached);
    assert.ok((again.answers.addresses[0]?.ttl ?? 99) <= 60);
  });

  test('local-data answered by the resolver itself is logged as CLIENT_RESPONSE too (Debian 1.17.1)', async () => {
    // Pinned: the learner may rely on it for names an operator overrides with local-data.
    const from = seen.length;
    assert.match(dig('a.direct.test', 'A'), /192\.0\.2\.55/);
    const { answers } = await clientResponse('a.direct.test.', 1, from);
    assert.deepEqual(
      answers.addresses.map((x) => [x.owner, x.address, x.ttl]),
      [['a.direct.test.', '192.0.2.55', 90]],
    );
  });

  test('Unbound restarted: STOP/FINISH or close, then a new connection with a new handshake', async () => {
    const accepted = dnstap.counters().connectionsAccepted;
    const oldConn = seen.at(-1)?.conn;
    assert.ok(resolver);
    await stopChild(resolver, 'SIGTERM', 5000);
    await waitFor('the old connection closes', () => dnstap.counters().connectionsOpen === 0);
    // Unbound's dtio sends STOP on shutdown and waits briefly for FINISH; a plain close is also fine.
    assert.ok(ends.at(-1)?.kind === 'finished' || ends.at(-1)?.kind === 'closed', JSON.stringify(ends.at(-1)));
    resolver = start(resolverConf, 'resolver.log');
    await ready(53);
    await waitFor('Unbound reconnects', () => dnstap.counters().connectionsAccepted === accepted + 1 && dnstap.counters().connectionsOpen === 1, { timeoutMs: 20_000 });
    const from = seen.length;
    dig('apex.example.test', 'A');
    const { seen: s, answers } = await clientResponse('apex.example.test.', 1, from);
    assert.notEqual(s.conn, oldConn);
    assert.deepEqual(
      answers.addresses.map((x) => x.address),
      ['198.51.100.1'],
    );
    assert.deepEqual(dnstap.counters().errors, {}, 'no protocol or decode errors with a real Unbound');
  });
});

function assertChain(a: ResponseAnswers): void {
  assert.deepEqual(
    a.cnames.map((c) => [c.owner, c.target]),
    [
      ['www.example.test.', 'edge.example.test.'],
      ['edge.example.test.', 'e1.cdn.example.test.'],
    ],
  );
  const [first, second] = a.cnames;
  assert.ok(first !== undefined && first.ttl <= 300 && first.ttl >= 290, `CNAME TTL ${first?.ttl}`);
  assert.ok(second !== undefined && second.ttl <= 120 && second.ttl >= 110, `CNAME TTL ${second?.ttl}`);
}
