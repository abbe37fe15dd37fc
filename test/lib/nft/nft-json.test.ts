import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSidecarError } from '../../../src/errors.js';
import { parseMonitorLine } from '../../../src/lib/nft/monitor.js';
import { missingFromStderr } from '../../../src/lib/nft/nft-backend.js';
import { addSetCommand, elementCommand, flushSetCommand, nftDocument, parseListSet } from '../../../src/lib/nft/nft-json.js';

const ref = { family: 'inet', table: 'global', set: 'force_vpn4' } as const;

test('a document of commands is valid nft JSON with interval flags and no auto-merge', () => {
  const doc = JSON.parse([...nftDocument([addSetCommand(ref, 'ipv4_addr'), flushSetCommand(ref), elementCommand('add', ref, ['"1.2.3.4"', '{"prefix":{"addr":"10.0.0.0","len":8}}'])])].join(''));
  assert.deepEqual(doc.nftables[0], { add: { set: { family: 'inet', table: 'global', name: 'force_vpn4', type: 'ipv4_addr', flags: ['interval'] } } });
  assert.deepEqual(doc.nftables[1], { flush: { set: { family: 'inet', table: 'global', name: 'force_vpn4' } } });
  assert.deepEqual(doc.nftables[2].add.element.elem, ['1.2.3.4', { prefix: { addr: '10.0.0.0', len: 8 } }]);
});

test('list set output is narrowed once; unknown shapes are refused', () => {
  const out = {
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      {
        set: {
          family: 'inet',
          name: 's',
          table: 't',
          type: 'ipv4_addr',
          handle: 1,
          flags: ['interval'],
          elem: ['1.2.3.4', { prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['20.0.0.1', '20.0.0.9'] }, { elem: { val: '5.5.5.5', timeout: 10 } }],
        },
      },
    ],
  };
  const s = parseListSet(out);
  assert.deepEqual(s.elements, ['1.2.3.4', { prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['20.0.0.1', '20.0.0.9'] }, '5.5.5.5']);
  assert.deepEqual(parseListSet({ nftables: [{ set: { family: 'ip', name: 's', table: 't', type: 'ipv4_addr' } }] }).elements, []);
  for (const bad of [null, {}, { nftables: [] }, { nftables: [{ set: { family: 'inet', name: 's', table: 't', type: 'x', elem: [{ concat: [] }] } }] }]) {
    assert.throws(
      () => parseListSet(bad),
      (e: unknown) => isSidecarError(e, 'NFT_APPLY_FAILED'),
    );
  }
});

test('monitor lines (as nft 1.0.6 prints them) become events', () => {
  assert.deepEqual(parseMonitorLine('{"delete": {"element": {"family": "inet", "table": "g", "name": "s4", "elem": {"set": ["1.2.3.4"]}}}}'), {
    op: 'delete',
    kind: 'element',
    family: 'inet',
    table: 'g',
    set: 's4',
    count: 1,
  });
  assert.deepEqual(parseMonitorLine('{"add": {"set": {"family": "inet", "name": "s4", "table": "g", "type": "ipv4_addr", "handle": 1, "flags": ["interval"]}}}'), {
    op: 'add',
    kind: 'set',
    family: 'inet',
    table: 'g',
    set: 's4',
  });
  assert.deepEqual(parseMonitorLine('{"delete": {"table": {"family": "inet", "name": "g", "handle": 2}}}'), { op: 'delete', kind: 'table', family: 'inet', table: 'g' });
  for (const l of ['', 'not json', '{"add": {"rule": {}}}', '{"add": {"table": {"family": "bridge", "name": "x"}}}']) assert.equal(parseMonitorLine(l), undefined);
});

test("which name nft's caret points at tells a missing table from a missing set", () => {
  assert.equal(missingFromStderr('Error: No such file or directory\nlist set inet nosuch x\n              ^^^^^^\n', { family: 'inet', table: 'nosuch', set: 'x' }), 'table');
  assert.equal(missingFromStderr('Error: No such file or directory\nlist set inet g nosuch\n                ^^^^^^\n', { family: 'inet', table: 'g', set: 'nosuch' }), 'set');
  assert.equal(missingFromStderr('Error: Operation not permitted', ref), undefined);
});
