import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createHttpServer } from '../../src/http/index.js';
import { LearnedStore } from '../../src/learner/learned-store.js';
import { ListMatchers } from '../../src/learner/list-matchers.js';
import { lookup } from '../../src/learner/lookup.js';
import { emptyRangeSet, rangeSetOf } from '../../src/lib/ip-prefix/index.js';
import { learningList, noKernel, stubLearnedSets } from '../helpers/learned-sets-stub.js';
import { toPageLookup } from '../../src/wiring/status-lookup.js';

/**
 * The status page's lookup goes through the same chain as the daemon wires it (HTTP → wiring →
 * the learner's lookup, which `unbound-sidecar lookup` also asks), so a Unicode IDN is a name on
 * the page exactly when it is one for the CLI.
 */

const listCfg = learningList;
const learnedSets = stubLearnedSets({ kind: 'applied', refreshed: false });

test('/api/lookup: Unicode IDNs are names (punycode-matched like the CLI); junk is still invalid', async () => {
  const matchers = new ListMatchers([listCfg], { minTtl: 300, maxTtl: 86_400 });
  matchers.setModel('vpn', { ipv4: rangeSetOf('ipv4', ['198.51.100.0/24']), ipv6: emptyRangeSet('ipv6'), domains: ['xn--e1afmkfd.xn--p1ai'] });
  const deps = { matchers, store: new LearnedStore('/nonexistent', noKernel), learnedSets };
  const server = createHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    readiness: [],
    lookup: (q) => Promise.resolve(toPageLookup(q, lookup(q, deps))), // as src/daemon.ts wires it
  });
  await server.start();
  const ask = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/api/lookup?q=${encodeURIComponent(q)}`);
    assert.equal(res.status, 200, q);
    return (await res.json()) as { kind: string; matches: { list: string; reason: string }[] };
  };
  try {
    for (const q of ['пример.рф', 'www.Пример.РФ.', 'xn--e1afmkfd.xn--p1ai']) {
      const r = await ask(q);
      assert.equal(r.kind, 'domain', q);
      assert.deepEqual(
        r.matches.map((m) => m.list),
        ['vpn'],
        q,
      );
      // The CLI's answer for the same text: the same list through the same entry.
      const cli = lookup(q, deps);
      assert.ok(cli.kind === 'name' && cli.matches[0]?.entry === 'xn--e1afmkfd.xn--p1ai', q);
    }
    const unlisted = await ask('bücher.example');
    assert.deepEqual([unlisted.kind, unlisted.matches.length], ['domain', 0]);
    assert.equal((await ask('198.51.100.7')).kind, 'ip');
    for (const junk of ['<script>alert(1)</script>', 'a..b', 'has space.com', 'com']) assert.equal((await ask(junk)).kind, 'invalid', junk);
  } finally {
    await server.stop();
  }
});
