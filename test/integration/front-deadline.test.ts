/**
 * The front's bounded wait, with a real stall: the daemon runs with the nft CLI backend
 * (`UNBOUND_SIDECAR_NFT_BACKEND=cli`) and a `nft` on its PATH that, while a flag file exists,
 * sleeps before running the real nft on transactions (`-f`) — a kernel write that takes
 * seconds, as under commit-mutex contention. Answers must go out at the deadline anyway
 * (fail-open), or as SERVFAIL with failClosed, and answers with nothing to insert are not held.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFrontLab, type FrontLab } from '../lab/front-lab.js';
import type { DnsResult } from '../lab/lab.js';
import { findBinary, labSkip } from '../lab/prereqs.js';

const skip = labSkip({ sidecar: true, binaries: { nft: 'nftables' } });
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const DEADLINE_MS = 500;
const STALL_S = 3;

function answered(r: DnsResult, what: string): Extract<DnsResult, { ok: true }> {
  assert.ok(r.ok, `${what}: no answer through the front (${r.ok ? '' : r.error})`);
  return r;
}

describe('DNS front: a stalled insertion meets the deadline', { skip, timeout: 120_000 }, () => {
  let fl: FrontLab;
  let dir: string;
  let flag: string;
  const stall = (on: boolean): void => (on ? writeFileSync(flag, '') : rmSync(flag, { force: true }));
  const metric = async (re: RegExp): Promise<number> => {
    const r = await fl.lab.http('router', `http://127.0.0.1:${fl.sidecar.metricsPort}/metrics`);
    assert.ok(r.ok, 'metrics');
    return r.body
      .split('\n')
      .filter((l) => re.test(l) && !l.startsWith('#'))
      .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  };

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'us-front-stall-'));
    flag = join(dir, 'stall');
    const nft = findBinary('nft') ?? '/usr/sbin/nft';
    writeFileSync(join(dir, 'nft'), `#!/bin/sh\ncase " $* " in *" -f "*) [ -e "${flag}" ] && sleep ${STALL_S};; esac\nexec ${nft} "$@"\n`);
    chmodSync(join(dir, 'nft'), 0o755);
    fl = await createFrontLab({
      front: { insertDeadlineMs: DEADLINE_MS },
      sidecarEnv: { UNBOUND_SIDECAR_NFT_BACKEND: 'cli', PATH: `${dir}:${process.env.PATH ?? '/usr/sbin:/usr/bin'}` },
    });
  });
  after(async () => {
    stall(false);
    await fl?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('without a stall, a listed answer is learned before it arrives (the CLI backend path)', async () => {
    const from = await fl.firstPackets();
    const r = answered(await fl.ask('front', { name: `ok-${run}.listed.example`, type: 'A', connectPort: 80 }), 'no stall');
    assert.equal(r.msg.rcode, 'NOERROR');
    const now = await fl.firstPackets();
    assert.deepEqual([now.inSet - from.inSet, now.notInSet - from.notInSet], [1, 0]);
  });

  test('stalled: the answer goes out at the deadline (fail-open), the miss is counted, unlisted answers are not held', async () => {
    const missesBefore = await metric(/deadline/);
    stall(true);
    try {
      const listed = fl.ask('front', { name: `stall-${run}.listed.example`, type: 'A', timeoutMs: 5000 });
      // Asked while the listed answer waits on the stalled kernel write.
      const unlisted = answered(await fl.ask('front', { name: `free-${run}.unlisted.example`, type: 'A', timeoutMs: 5000 }), 'unlisted');
      const r = answered(await listed, 'listed, stalled');
      assert.equal(r.msg.rcode, 'NOERROR');
      assert.ok(
        r.msg.answers.some((a) => a.type === 'A'),
        'the answer itself, not an error',
      );
      assert.ok(r.ms >= DEADLINE_MS - 5, `held until the deadline (${r.ms.toFixed(0)} ms)`);
      // Upper bounds sit a whole stall (3 s) away from the expected values, so load cannot flip them.
      assert.ok(r.ms < STALL_S * 1000 - 500, `released at the deadline, not when the kernel write ended (${r.ms.toFixed(0)} ms)`);
      assert.ok(unlisted.ms < STALL_S * 1000 - 1500, `the unlisted answer did not wait for the stalled write (${unlisted.ms.toFixed(0)} ms)`);
    } finally {
      stall(false);
    }
    assert.ok((await metric(/deadline/)) > missesBefore, 'a deadline miss on /metrics');
  });

  test('failClosed: a stalled insertion answers SERVFAIL at the deadline instead', async () => {
    await fl.restartSidecar({ insertDeadlineMs: DEADLINE_MS, failClosed: true });
    stall(true);
    try {
      const r = answered(await fl.ask('front', { name: `closed-${run}.listed.example`, type: 'A', timeoutMs: 5000 }), 'failClosed');
      assert.equal(r.msg.rcode, 'SERVFAIL');
      assert.equal(r.msg.answers.length, 0);
      assert.ok(r.ms >= DEADLINE_MS - 5 && r.ms < STALL_S * 1000 - 500, `SERVFAIL at the deadline (${r.ms.toFixed(0)} ms)`);
    } finally {
      stall(false);
    }
  });
});
