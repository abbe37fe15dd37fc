import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderStatusText } from '../../src/cli/status.js';
import { assessStatus, buildStatusSnapshot, statusSnapshotSchema } from '../../src/http/status.js';

const front = (
  state: 'ok' | 'off' | 'unavailable' | 'failing',
  problem?: string,
  notBound: string[] = [],
  udp: { receiveBufferBytes?: number; receiveBufferCapped: boolean; kernelDrops: { listener: number; upstream: number; unbound: number } } = {
    receiveBufferBytes: 2097152,
    receiveBufferCapped: false,
    kernelDrops: { listener: 0, upstream: 0, unbound: 0 },
  },
) => ({
  listen: ['10.77.0.1:53'],
  upstream: '127.0.0.1:5301',
  allow: ['127.0.0.0/8', '10.77.0.1/24'],
  inflight: 2,
  tcpConnections: 1,
  notBound,
  insertion: { state, ...(problem ? { problem } : {}), deadlineMisses: 3, failOpen: 3, failClosed: 0 },
  udp,
});

test('status: the front section round-trips the schema; an insertion that cannot work is a problem, with what to do', () => {
  const base = { version: 't', startedAt: 0, now: 1000, mdns: { backend: 'native' as const, up: true }, lists: [], errors: [] };
  const ok = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('ok') }));
  assert.deepEqual(assessStatus(ok).problems, []);
  assert.match(renderStatusText(ok, assessStatus(ok), false), /front {4}10\.77\.0\.1:53 → 127\.0\.0\.1:5301 · inserting before answering · 3 deadline miss\(es\) \(3 fail-open, 0 fail-closed\)/);
  const off = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('off') }));
  assert.match(renderStatusText(off, assessStatus(off), false), /relay only \(no learning list\)/);
  const bad = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('unavailable', 'set-sync: learned set inet t l4 is missing (create it, or set createSets)') }));
  const a = assessStatus(bad);
  assert.equal(a.healthy, false);
  assert.match(a.problems[0] ?? '', /^front: listed answers are relayed before their addresses are in the set: .*missing/);
  assert.equal(buildStatusSnapshot(base).health.front, undefined, 'absent without a front');
});

test('status: a listen address no interface has yet is a problem, shown by the CLI, and keeps the front not ready', async () => {
  const base = { version: 't', startedAt: 0, now: 1000, mdns: { backend: 'native' as const, up: true }, lists: [], errors: [] };
  const late = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('ok', undefined, ['[fd01::1]:53']) }));
  const a = assessStatus(late);
  assert.equal(a.healthy, false);
  assert.deepEqual(a.problems, ['front: not listening on [fd01::1]:53 yet (no interface has the address; retrying)']);
  assert.match(renderStatusText(late, a, false), /not listening on \[fd01::1\]:53 yet/);
  const { frontReadiness } = await import('../../src/wiring/readiness.js');
  let missing = ['[fd01::1]:53'];
  const r = frontReadiness({ status: () => ({ notBound: missing }) }, ['10.77.0.1:53', '[fd01::1]:53'], () => true);
  assert.deepEqual(r.check(), { kind: 'not-ready', detail: 'not listening on [fd01::1]:53 yet (no interface has the address; retrying); listening on 10.77.0.1:53' });
  missing = [];
  assert.deepEqual(r.check(), { kind: 'ready', detail: 'listening on 10.77.0.1:53, [fd01::1]:53' });
});

test("status: the front's UDP receive buffer and the kernel's drops (its sockets and Unbound's) are shown, a capped buffer with what to do", () => {
  const base = { version: 't', startedAt: 0, now: 1000, mdns: { backend: 'native' as const, up: true }, lists: [], errors: [] };
  const ok = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('ok') }));
  assert.match(renderStatusText(ok, assessStatus(ok), false), /udp receive buffer 2048 KiB · kernel drops 0 listener, 0 upstream, 0 Unbound/);
  const capped = { receiveBufferBytes: 425984, receiveBufferCapped: true, kernelDrops: { listener: 12, upstream: 0, unbound: 3 } };
  const s = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('ok', undefined, [], capped) }));
  assert.deepEqual(s.health.front?.udp, capped, 'round-trips the schema');
  assert.match(
    renderStatusText(s, assessStatus(s), false),
    /udp receive buffer 416 KiB \(capped by net\.core\.rmem_max: raise it, or grant CAP_NET_ADMIN\) · kernel drops 12 listener, 0 upstream, 3 Unbound/,
  );
  const unset = statusSnapshotSchema.parse(buildStatusSnapshot({ ...base, front: front('ok', undefined, [], { receiveBufferCapped: false, kernelDrops: { listener: 0, upstream: 0, unbound: 0 } }) }));
  assert.match(renderStatusText(unset, assessStatus(unset), false), /udp receive buffer system default/);
});
