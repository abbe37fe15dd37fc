import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { CONFIG_KEY_OWNERS, configSchema } from '../../src/config/schema.js';
import { parseHostPort } from '../../src/lib/net/host-port.js';
import { buildClientAcl } from '../../src/dns-front/client-acl.js';
import { createAnswerPolicy } from '../../src/local-names/policy.js';
import { fencedBlocks, readmes } from '../helpers/markdown.js';
import { repoRoot } from '../helpers/repo-root.js';

const root = repoRoot();

/** Every JSON block in a markdown file that looks like a config (has a known top-level key). */
function markdownConfigs(file: string): unknown[] {
  const blocks = fencedBlocks(root, file)
    .filter((b) => b.lang === 'json')
    .map((b) => b.text);
  return blocks.map((b) => JSON.parse(b) as unknown).filter((v) => typeof v === 'object' && v !== null && ['dns', 'mdns', 'metrics', 'lists', 'setSync', 'front'].some((k) => k in v));
}

test('defaults make an empty config work', () => {
  const c = parseConfig({});
  assert.deepEqual(c.dns.listen, ['127.0.0.1:5335']);
  assert.deepEqual(c.dns.zones, ['local.']);
  assert.equal(c.mdns.backend, 'auto');
  assert.equal(c.metrics.listen, '127.0.0.1:9335');
  assert.equal(c.mdns.timeoutMs, 1000);
  assert.equal(c.mdns.ttl, 120);
});

test('every example in config/ and in READMEs parses (and its static records compile)', () => {
  const files = readdirSync(join(root, 'config'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(root, 'config', f));
  const configs: [string, unknown][] = files.map((f) => [f, JSON.parse(readFileSync(f, 'utf8')) as unknown]);
  for (const r of readmes(root)) for (const c of markdownConfigs(r)) configs.push([r, c]);
  assert.ok(configs.length >= 3, 'found the examples');
  for (const [where, value] of configs) {
    const c = parseConfig(value, where);
    assert.doesNotThrow(() => createAnswerPolicy(c.mdns.policy, c.mdns.ttl), where);
  }
});

test('config/example.json: a front on LAN addresses, answering their LAN, in front of the Unbound the README sets up', () => {
  const example = parseConfig(JSON.parse(readFileSync(join(root, 'config', 'example.json'), 'utf8')) as unknown, 'config/example.json');
  const front = example.front;
  assert.ok(front, 'the example has a front block');
  const hosts = front.listen.map((l) => parseHostPort(l)?.host ?? l);
  for (const h of hosts) assert.ok(!/^(127\.|::1$|0\.0\.0\.0$|::$)/.test(h), `${h}: a LAN address, not loopback or a wildcard`);
  const acl = buildClientAcl(hosts, front.allow, {});
  for (const h of hosts) assert.ok(acl.allows(h), `allow covers the front's own network (${h})`);
  assert.ok(!acl.allows('192.0.2.1') && !acl.allows('2001:db8::1'), 'and nothing outside the LAN');
  const unbound = fencedBlocks(root, 'README.md').find((b) => b.lang === 'unbound' && b.text.includes('proxy-protocol-port:'))?.text ?? '';
  const port = /proxy-protocol-port: (\d+)/.exec(unbound)?.[1];
  assert.ok(port !== undefined, 'README sets up Unbound with a proxy-protocol-port');
  assert.equal(front.upstream, `127.0.0.1:${port}`);
  assert.ok(unbound.includes(`interface: 127.0.0.1@${port}`));
  assert.equal(front.proxyProtocol, true);
});

const LIST = { name: 'vpn', refresh: '1h', sources: [{ url: 'https://reestr.rublacklist.net/api/v3/ips/', format: 'json', contains: 'ips' }], nft: { table: 'global', set4: 'a' } };

test('zones: local. and below, home.arpa., and reverse zones of LAN space only', () => {
  const allowed = [
    'local.',
    'LAN.Local',
    'home.arpa.',
    'x.home.arpa.',
    '10.in-addr.arpa.',
    '77.10.in-addr.arpa.',
    '16.172.in-addr.arpa.',
    '31.172.in-addr.arpa.',
    '168.192.in-addr.arpa.',
    '1.168.192.in-addr.arpa.',
    '0-25.1.168.192.in-addr.arpa.',
    '254.169.in-addr.arpa.',
    '64.100.in-addr.arpa.',
    '255.127.100.in-addr.arpa.',
    'c.f.ip6.arpa.',
    'd.f.ip6.arpa.',
    '9.8.7.6.5.4.3.2.1.0.d.f.ip6.arpa.',
    '8.e.f.ip6.arpa.',
    'b.e.f.ip6.arpa.',
  ];
  const refused = [
    'com.',
    '.',
    'arpa.',
    'in-addr.arpa.',
    'ip6.arpa.',
    'example.local.com.',
    'local.arpa.',
    '8.8.8.in-addr.arpa.',
    '172.in-addr.arpa.',
    '15.172.in-addr.arpa.',
    '32.172.in-addr.arpa.',
    '192.in-addr.arpa.',
    '169.in-addr.arpa.',
    '100.in-addr.arpa.',
    '63.100.in-addr.arpa.',
    '128.100.in-addr.arpa.',
    '127.in-addr.arpa.',
    '010.in-addr.arpa.',
    '256.in-addr.arpa.',
    'x.10.in-addr.arpa.arpa.',
    'f.ip6.arpa.',
    'e.f.ip6.arpa.',
    'c.e.f.ip6.arpa.',
    '8.b.d.0.1.0.0.2.ip6.arpa.',
    'home.',
    'arpa.home.',
  ];
  for (const z of allowed) assert.doesNotThrow(() => parseConfig({ dns: { zones: [z] } }), z);
  for (const z of refused) assert.throws(() => parseConfig({ dns: { zones: [z] } }), /dns\.zones\[0\]: /, z);
});

test('errors name the JSON path and what was expected', () => {
  const cases: [unknown, RegExp][] = [
    [{ dns: { listen: ['localhost:53'] } }, /dns\.listen\[0\]: expected "host:port" with a literal IP/],
    [{ dns: { zones: ['bad zone'] } }, /dns\.zones\[0\]: expected a domain name/],
    [{ mdns: { backend: 'bonjour' } }, /mdns\.backend: .*"auto"/],
    [{ mdns: { timeoutMs: -1 } }, /mdns\.timeoutMs: /],
    [{ mdns: { policy: { acceptNames: ['('] } } }, /mdns\.policy\.acceptNames\[0\]: expected a valid regular expression/],
    [{ mdns: { policy: { rejectTypes: ['BOGUS'] } } }, /mdns\.policy\.rejectTypes\[0\]: unknown record type "BOGUS"/],
    [{ mdns: { policy: { staticRecords: ['router.local. A 999.1.1.1'] } } }, /mdns\.policy\.staticRecords\[0\]: .*IPv4/],
    [{ dsn: {} }, /\(root\): Unrecognized key: "dsn"/],
    [null, /\(root\): expected a JSON object such as \{\} \(every key has a default\), got null/],
    [[], /\(root\): expected a JSON object .*got an array/],
    [42, /\(root\): expected a JSON object .*got a number/],
    ['{}', /\(root\): expected a JSON object .*got a string/],
    [{ dns: { zones: ['local.', 'com.'] } }, /dns\.zones\[1\]: "com\." is not a zone the sidecar may answer for: it is authoritative only for "local\." and names under it/],
    [{ lists: [{ name: 'vpn', refresh: '1h', sources: LIST.sources, nft: { table: 'global' } }] }, /lists\[0\]\.nft: set at least one of "set4" and "set6"/],
    [{ lists: [{ name: 'vpn', refresh: '10s', sources: LIST.sources, nft: { table: 'global', set4: 'a' } }] }, /lists\[0\]\.refresh: refresh must be at least 1m/],
    [{ lists: [LIST, LIST] }, /lists\[1\]\.name: "vpn" is already the name of lists\[0\]; lists\[1\]\.nft: set inet global a is already kept by list "vpn"/],
  ];
  for (const [value, re] of cases) {
    assert.throws(
      () => parseConfig(value, 'test.json'),
      (e: unknown) => e instanceof Error && re.test(e.message) && e.message.startsWith('config: test.json: '),
      JSON.stringify(value),
    );
  }
});

test('every top-level config key names the capability folder that owns it', () => {
  const keys = Object.keys(configSchema.shape).sort();
  assert.deepEqual(Object.keys(CONFIG_KEY_OWNERS).sort(), keys);
  for (const [key, folder] of Object.entries(CONFIG_KEY_OWNERS)) {
    if (folder === undefined) continue;
    assert.ok(existsSync(join(repoRoot(), 'src', folder, 'config.ts')), `${key}: src/${folder}/config.ts`);
  }
});
