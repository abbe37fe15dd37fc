import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUnboundSnippet } from '../../src/cli/render-unbound.js';
import { parseConfig } from '../../src/config/index.js';
import { repoRoot } from '../helpers/repo-root.js';

test('render unbound prints exactly the README snippet for local. + 77.10.in-addr.arpa.', () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const snippet = /```unbound\n(server:\n[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, 'README has the snippet');
  const config = parseConfig({ dns: { listen: ['127.0.0.1:5335'], zones: ['local.', '77.10.in-addr.arpa.'] } });
  assert.equal(renderUnboundSnippet(config), snippet);
});

test('exact default reverse zones get nodefault; wildcard binds are reached over loopback', () => {
  const out = renderUnboundSnippet(parseConfig({ dns: { listen: ['0.0.0.0:5400'], zones: ['local.', '10.in-addr.arpa.', 'home.arpa.'] } }));
  assert.match(out, /local-zone: "10\.in-addr\.arpa\." nodefault/);
  assert.match(out, /domain-insecure: "home\.arpa"\n/);
  assert.equal(out.match(/forward-addr: 127\.0\.0\.1@5400/g)?.length, 3);
});
