import { SerialQueue } from '../../concurrency/index.js';
import type { QuietWindow } from '../nft-backend.js';
import { nftListenersEverywhere } from './netlink-listeners.js';
import { NfnlSocket } from './nfnl-socket.js';
import { subscriptions, type SubscriptionControl } from './nft-subscription.js';
import { generation } from './set-info.js';

/**
 * Bulk writes without notifications. While anyone listens to NFNLGRP_NFTABLES, each element of a
 * transaction costs the kernel one notification skb (~16.7 KiB a range, held until the commit
 * ends: nf_tables_setelem_notify(), net/netfilter/nf_tables_api.c); with nobody listening it skips
 * them (`!ctx->report && !nfnetlink_has_listeners(…)`) and a range costs ~0.2 KiB. "Anyone" is any
 * socket in any namespace (netlink-listeners.ts), and this process's own subscriptions
 * (nft-subscription.ts, one per namespace) are such listeners. So for a bulk load with nobody
 * else listening anywhere, all our subscriptions leave the group, the caller writes bigger
 * transactions, and they join again. None of our requests sets NLM_F_ECHO (which sets
 * ctx->report and forces the notifications).
 *
 * Nothing done by others while we are deaf may go unnoticed: in each namespace we stopped
 * hearing, the ruleset generation (GETGEN, NFTA_GEN_ID, bumped once by every commit:
 * nf_tables_commit) is read before leaving the group, again after every transaction of ours
 * there and after joining again — each read under one lock that every transaction of this process
 * (any netlink backend, any namespace) takes too, so no commit of ours straddles a read. Each of
 * our commits must move it by exactly one and nothing else by anything; any other step (someone
 * else committed, a transaction of ours timed out and may commit later, a read failed) is reported
 * to that subscription's consumers as `lost` once we hear again, and they read back and repair,
 * as after a receive-buffer overflow. (What this cannot see: a commit of ours that changed nothing,
 * which the kernel does not count, in the same step as one by someone else.)
 */

interface DeafNs {
  readonly sub: SubscriptionControl;
  /** The socket that left the group (a subscription re-opened meanwhile listens again, and leaves again). */
  portid: number | undefined;
  lastGen: number;
  tainted: string | undefined;
}

/** Deaf namespaces (by subscription key) and the windows holding them: it ends with the last. */
const deaf = new Map<string, DeafNs>();
let holders = 0;
/** The process-wide lock: every commit of ours and every generation read of a window, one at a time. */
const lock = new SerialQueue();
const exclusive = <T>(job: () => Promise<T>): Promise<T> => lock.run(job);

/** The generation on a socket of its own (the backends' sockets take one request at a time). */
async function readGen(netns: string | undefined): Promise<number> {
  const sock = NfnlSocket.open(netns);
  try {
    return await generation(sock);
  } finally {
    sock.close();
  }
}

/** base_seq skips 0 when it wraps (nf_tables_commit: `while (++nft_net->base_seq == 0);`). */
const after = (g: number): number => (g + 1) >>> 0 || 1;

async function check(d: DeafNs, netns: string | undefined, expected: number, what: string): Promise<void> {
  try {
    const g = await readGen(netns);
    if (g !== expected) d.tainted ??= `ruleset generation ${g} after ${what}, expected ${expected}: something else committed while we did not listen`;
    d.lastGen = g;
  } catch (err) {
    d.tainted ??= `ruleset generation unreadable after ${what}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

const keyOf = (netns: string | undefined): string => netns ?? '';
const netnsOf = (key: string): string | undefined => (key === '' ? undefined : key);

/**
 * Every transaction this process sends over netlink goes through here (netlink-backend.ts):
 * serialised with the windows' edges and with each other, and while its namespace is deaf,
 * checked to be the only commit there since the last generation read.
 */
export function ownCommit<T>(netns: string | undefined, send: () => Promise<T>): Promise<T> {
  return exclusive(async () => {
    let ok = false;
    try {
      const r = await send();
      ok = true;
      return r;
    } finally {
      const d = deaf.get(keyOf(netns));
      // An aborted batch commits nothing; one past its deadline may commit later (the next read sees it).
      if (d) await check(d, netns, ok ? after(d.lastGen) : d.lastGen, ok ? 'our transaction' : 'our failed transaction');
    }
  });
}

/** Makes every subscription of this process deaf (those not yet): false, all hearing again, when one cannot be. */
async function deafenAll(): Promise<boolean> {
  for (const { netns, sub } of subscriptions()) {
    const key = keyOf(netns);
    const d = deaf.get(key);
    if (sub.portid === undefined || (d && d.portid === sub.portid)) continue;
    if (d) {
      // Re-opened meanwhile (it said `up`, so its consumers refill anyway): leave again, same generation chain.
      if (!sub.setMember(false)) return false;
      d.portid = sub.portid;
      continue;
    }
    let gen: number;
    try {
      gen = await readGen(netns);
    } catch {
      return false;
    }
    if (!sub.setMember(false)) return false;
    deaf.set(key, { sub, portid: sub.portid, lastGen: gen, tainted: undefined });
  }
  return true;
}

async function hearAll(): Promise<void> {
  for (const [key, d] of [...deaf]) {
    deaf.delete(key);
    if (!d.sub.setMember(true)) d.tainted ??= 'could not join NFNLGRP_NFTABLES again';
    await check(d, netnsOf(key), d.lastGen, 'joining again');
    if (d.tainted !== undefined) d.sub.reportLost(d.tainted);
  }
}

/** Other listeners anywhere: everything listening that is not one of our (deaf or hearing) subscriptions. */
function othersListen(): boolean {
  try {
    const ours = new Set(subscriptions().map(({ sub }) => `${String(sub.nsIno)}/${String(sub.portid)}`));
    return nftListenersEverywhere().some((l) => !ours.has(`${String(l.ns)}/${String(l.portid)}`));
  } catch {
    return true; // cannot tell: assume someone listens
  }
}

export function createQuietWindow(): QuietWindow {
  let holding = false;

  const release = (): Promise<void> =>
    exclusive(async () => {
      if (!holding) return;
      holding = false;
      if (--holders === 0) await hearAll();
    });

  return {
    async quiet() {
      if (othersListen()) {
        await release();
        return false;
      }
      return exclusive(async () => {
        if (!holding) {
          holding = true;
          holders++;
        }
        if (await deafenAll()) return true;
        holding = false;
        if (--holders === 0) await hearAll();
        return false;
      });
    },
    end: release,
  };
}
