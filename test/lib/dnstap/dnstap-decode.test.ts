import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDnstap, DnstapSchema } from '../../../src/lib/dnstap/dnstap-decode.js';
import { dnstapPayload } from './fstrm-client.js';

test('a CLIENT_RESPONSE narrows to plain fields; times are epoch ms; identity is text', () => {
  const response = Uint8Array.from([1, 2, 3]);
  const r = decodeDnstap(dnstapPayload({ identity: 'router', response, responseTimeSec: 1_750_000_000, responseTimeNsec: 250_000_000 }));
  assert.equal(r.kind, 'message');
  if (r.kind !== 'message') return;
  const m = r.message;
  assert.equal(m.type, 'CLIENT_RESPONSE');
  assert.equal(m.identity, 'router');
  assert.equal(m.version, undefined);
  assert.equal(m.socketFamily, 'INET');
  assert.equal(m.socketProtocol, 'UDP');
  assert.deepEqual([...(m.queryAddress ?? [])], [127, 0, 0, 1]);
  assert.equal(m.queryPort, 53000);
  assert.equal(m.responseTimeMs, 1_750_000_000_250);
  assert.equal(m.queryTimeMs, undefined, 'absent, not 0: proto2 presence is kept');
  assert.deepEqual([...(m.responseMessage ?? [])], [1, 2, 3]);
  assert.equal(m.queryMessage, undefined);
});

test('uint64 seconds beyond 2^32 survive (Long or number)', () => {
  const msg = DnstapSchema.Message.create({ type: 4, query_time_sec: 2 ** 33 + 5, query_time_nsec: 1_000_000 });
  const bytes = DnstapSchema.Dnstap.encode(DnstapSchema.Dnstap.create({ type: 1, message: msg })).finish();
  const r = decodeDnstap(bytes);
  assert.equal(r.kind === 'message' && r.message.type, 'RESOLVER_RESPONSE');
  assert.equal(r.kind === 'message' && r.message.queryTimeMs, (2 ** 33 + 5) * 1000 + 1);
});

test('what is not a usable message is a typed error', () => {
  const enc = (o: Record<string, unknown>): Uint8Array => DnstapSchema.Dnstap.encode(DnstapSchema.Dnstap.create(o)).finish();
  const table: [string, Uint8Array, string][] = [
    ['empty frame (required type missing)', new Uint8Array(0), 'protobuf'],
    ['invalid wire type', Uint8Array.from([0xff, 0xff, 0xff]), 'protobuf'],
    ['length past the end', Uint8Array.from([0x72, 0x50, 1]), 'protobuf'],
    ['type MESSAGE without message', enc({ type: 1 }), 'no-message'],
    ['a message without its required type', enc({ type: 1, message: DnstapSchema.Message.create({ query_port: 1 }) }), 'protobuf'],
    ['an unknown Dnstap.type', Uint8Array.from([0x78, 0x02]), 'not-message'],
    ['an unknown Message.type', enc({ type: 1, message: DnstapSchema.Message.create({ type: 99 }) }), 'unknown-message-type'],
  ];
  for (const [name, bytes, reason] of table) assert.deepEqual(decodeDnstap(bytes), { kind: 'error', reason }, name);
});
