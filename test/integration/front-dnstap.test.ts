/**
 * The front lab's baseline: the path the front replaces. Clients ask Unbound directly, Unbound
 * logs client responses to the sidecar over dnstap, the learner writes the learned set. This pins
 * that the lab itself is honest — the nftables counters see a first packet to an address that is
 * not learned, the learner does learn it (through the real dnstap stream), and a later connection
 * counts as inside the set — so a front test that sees "all first packets inside" means something.
 * How late dnstap learns (Unbound's dnstap writer wakes on a 1 s timer or at 32 queued messages,
 * dnstap/dtstream.c) is measured in bench/front-race.bench.ts, not asserted here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createFrontLab, type FrontLab } from '../lab/front-lab.js';
import { labSkip } from '../lab/prereqs.js';
import { waitFor } from '../lab/wait.js';

const skip = labSkip({ sidecar: true, binaries: { nft: 'nftables' } });
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;

describe('front lab baseline: dnstap learning, first packets counted', { skip, timeout: 60_000 }, () => {
  let fl: FrontLab;
  before(async () => {
    if (skip) return;
    fl = await createFrontLab({ front: false, dnstap: true });
  });
  after(async () => {
    await fl?.teardown();
  });

  test('a listed answer from Unbound directly is learned via dnstap; the counters tell first packets in and out of the set apart', async () => {
    const name = `tap-${run}.listed.example`;
    const from = await fl.firstPackets();
    const r = await fl.ask('direct', { name, type: 'A', connectPort: 80 });
    assert.ok(r.ok && r.msg.rcode === 'NOERROR', JSON.stringify(r));
    const ip = r.msg.answers.find((a) => a.type === 'A')?.data;
    assert.ok(ip !== undefined && r.connects?.[0]?.outcome === 'refused', 'the client connected at once and reached the sink');
    await waitFor(`${ip} learned through dnstap`, () => fl.learned(ip), { timeoutMs: 5000, intervalMs: 50 });
    const again = await fl.ask('direct', { name, type: 'A', connectPort: 80 });
    assert.ok(again.ok && again.connects?.[0]?.outcome === 'refused');
    const now = await fl.firstPackets();
    assert.equal(now.inSet + now.notInSet - from.inSet - from.notInSet, 2, 'each connection counted once');
    assert.ok(now.inSet - from.inSet >= 1, 'the connection after learning counts inside the set');
  });

  test('an unlisted answer is not learned', async () => {
    const r = await fl.ask('direct', { name: `tap-${run}.unlisted.example`, type: 'A' });
    assert.ok(r.ok);
    const ip = r.msg.answers.find((a) => a.type === 'A')?.data;
    assert.ok(ip !== undefined);
    // A listed answer asked after it is learned: once that one is in, dnstap has delivered this one too.
    const marker = await fl.ask('direct', { name: `mark-${run}.listed.example`, type: 'A' });
    const markIp = marker.ok ? marker.msg.answers.find((a) => a.type === 'A')?.data : undefined;
    assert.ok(markIp !== undefined);
    await waitFor('the marker learned', () => fl.learned(markIp), { timeoutMs: 5000 });
    assert.equal(await fl.learned(ip), false);
  });
});
