import { statSync } from 'node:fs';
import { SidecarError } from '../../../errors.js';
import { createNftBackend, type NftBackend } from '../nft-backend.js';
import { setRefText, type NftCommand, type SetRef } from '../nft-json.js';
import { translate } from './commands.js';
import { errnoText, netlinkUnavailable } from './libc.js';
import { createMonitorFanout } from './monitor-fanout.js';
import { NfnlSocket, NfnlTimeout, type sendOffThread } from './nfnl-socket.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NlWriter, NLMSG_ERROR, parseAttrs } from './nl-writer.js';
import { encodeElemOp, NFNL_SUBSYS_NFTABLES, NFPROTO, NFT_MSG_GETSET, type ElemOp, type SetInfo } from './set-elements.js';

/**
 * An NftBackend that writes set elements with nfnetlink directly (no nft process, no cache fill):
 * nft 1.0.6 lists every interval set of the table before any element change (a quadratic kernel
 * dump) and spends ~1.5 µs × set size per deleted interval; the kernel itself does each element in
 * O(log n). describeSet and listSet, and transactions with commands the encoder does not know,
 * stay on the nft CLI backend (`cli`). monitor() follows an in-process netlink subscription with
 * exact attribution (monitor-fanout.ts); every request has a deadline (DEFAULT_DEADLINE_MS).
 *
 * A transaction is ONE batch (NFNL_MSG_BATCH_BEGIN … END, res_id NFNL_SUBSYS_NFTABLES) in ONE
 * send: nfnetlink_rcv_batch() commits or aborts the whole skb, so it is all or nothing exactly like
 * `nft -f`. Only the last message asks for an ACK: errors are reported whatever the flags
 * (nfnetlink.c: `if (nlh->nlmsg_flags & NLM_F_ACK || err)`), so success is "that ACK and no error".
 */

const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;
const NFTA_SET_FLAGS = 3;
const NFTA_SET_KEY_LEN = 5;

/**
 * Deadline of one netlink request. A bounded transaction (16k elements) commits in ~0.1 s here
 * (src/set-sync/README.md); one was seen to take ~41 s on a loaded machine, with every later write
 * waiting behind it. 15 s is > 100× the normal time — a request still running then is stuck, not
 * slow — and leaves the repair (readback + rewrite) well inside the 30 s systemd watchdog period.
 */
export const DEFAULT_DEADLINE_MS = 15_000;

const inodeOf = (netns: string): bigint | undefined => {
  try {
    return statSync(`/run/netns/${netns}`, { bigint: true }).ino;
  } catch {
    return undefined;
  }
};

/** Element notifications a transaction will cause, about: a flush deletes what the set holds, guessed as what the same transaction adds (a full load) or the bound of one transaction. */
function elementCount(ops: readonly ElemOp[]): number {
  let n = 0;
  let flushes = 0;
  for (const op of ops) {
    if (op.op === 'flush') flushes++;
    else n += op.elems.kind === 'ranges' ? op.elems.set.size * 2 : op.elems.items.length;
  }
  return n + flushes * Math.max(n, 16_384);
}

const fail = (msg: string, cause?: unknown): SidecarError => new SidecarError('NFT_APPLY_FAILED', 'nft', `netlink: ${msg}`, cause === undefined ? undefined : { cause });

export interface NetlinkBackendOptions {
  cli?: NftBackend;
  /** For the nft CLI calls (listings, creates). */
  timeoutMs?: number;
  /** Per netlink request (DEFAULT_DEADLINE_MS). */
  deadlineMs?: number;
  /** Tests: a slow off-thread send, to exercise the deadline. */
  sendAsync?: typeof sendOffThread;
}

export function createNetlinkBackend(opts: NetlinkBackendOptions = {}): NftBackend {
  const cli = opts.cli ?? createNftBackend(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const reqOpts = { deadlineMs, ...(opts.sendAsync ? { sendAsync: opts.sendAsync } : {}) };
  const socks = new Map<string, NfnlSocket>();
  /** One request at a time per namespace: responses are drained by whoever sent last. */
  const queues = new Map<string, Promise<unknown>>();
  const monitors = createMonitorFanout((netns) => {
    const s = socks.get(netns ?? '');
    return s?.usable ? s.portid : undefined;
  });

  /** The socket for a namespace; a fresh one after a deadline, or when /run/netns/NAME now names another namespace. */
  function sockFor(netns: string | undefined): NfnlSocket {
    const key = netns ?? '';
    let s = socks.get(key);
    if (s?.usable && netns !== undefined && inodeOf(netns) !== s.nsIno) s.close();
    if (!s?.usable) {
      try {
        s = NfnlSocket.open(netns);
      } catch (err) {
        throw fail(`cannot open a netfilter socket${netns !== undefined ? ` in netns ${netns}` : ''}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      socks.set(key, s);
    }
    return s;
  }

  function serial<T>(netns: string | undefined, job: () => Promise<T>): Promise<T> {
    const key = netns ?? '';
    const run = (queues.get(key) ?? Promise.resolve()).then(job);
    queues.set(key, run.catch(() => undefined));
    return run;
  }

  async function getSet(sock: NfnlSocket, ref: SetRef): Promise<SetInfo> {
    const w = new NlWriter(512);
    const seq = sock.nextSeq(1);
    const at = w.beginMsg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSET, NLM_F_REQUEST | NLM_F_ACK, seq, NFPROTO[ref.family], 0);
    w.str(NFTA_SET_TABLE, ref.table);
    w.str(NFTA_SET_NAME, ref.set);
    w.endMsg(at);
    const rs = await sock.request(w.bytes(), reqOpts);
    const err = rs.find((r) => r.type === NLMSG_ERROR && r.error !== 0);
    if (err) throw fail(`set ${setRefText(ref)}: ${errnoText(err.error ?? 0)}`);
    const set = rs.find((r) => r.type !== NLMSG_ERROR && r.seq === seq);
    if (!set) throw fail(`set ${setRefText(ref)}: no answer to GETSET`);
    const attrs = parseAttrs(set.payload);
    return { flags: attrs.get(NFTA_SET_FLAGS)?.readUInt32BE(0) ?? 0, keyLen: attrs.get(NFTA_SET_KEY_LEN)?.readUInt32BE(0) ?? 0 };
  }

  async function transact(sock: NfnlSocket, ops: readonly ElemOp[]): Promise<void> {
    const infos = new Map<string, SetInfo>();
    for (const op of ops) {
      const k = setRefText(op.ref);
      if (op.op !== 'flush' && !infos.has(k)) infos.set(k, await getSet(sock, op.ref));
    }
    let hint = 4096;
    for (const op of ops) if (op.op !== 'flush') hint += op.elems.kind === 'ranges' ? op.elems.set.size * (op.elems.set.family === 'ipv4' ? 44 : 76) : op.elems.items.length * 76;
    const w = new NlWriter(hint);
    const seqOf: { from: number; op: ElemOp }[] = [];
    let seq = sock.nextSeq(1);
    const begin = w.beginMsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES);
    w.endMsg(begin);
    const nextSeq = (): number => (seq = sock.nextSeq(1));
    let last = -1;
    for (const op of ops) {
      seqOf.push({ from: seq + 1, op });
      try {
        last = encodeElemOp(w, op, infos.get(setRefText(op.ref)), nextSeq, NLM_F_REQUEST | (op.op === 'add' ? NLM_F_CREATE : 0));
      } catch (err) {
        throw fail(`${op.op} element ${setRefText(op.ref)}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }
    const lastSeq = seq;
    if (last >= 0) w.orFlags(last, NLM_F_ACK);
    w.endMsg(w.beginMsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, sock.nextSeq(1), 0, NFNL_SUBSYS_NFTABLES));
    const msg = w.bytes();
    // Off the main thread whatever its size: even a one-element batch waits for the commit mutex while another process commits.
    const rs = await sock.request(msg, reqOpts);
    const errors = rs.filter((r) => r.type === NLMSG_ERROR && r.error !== 0);
    if (errors.length > 0) {
      const what = errors.map((e) => {
        const op = [...seqOf].reverse().find((s) => s.from <= e.seq)?.op;
        return `${op ? `${op.op} ${op.op === 'flush' ? 'set' : 'element'} ${setRefText(op.ref)}` : `message ${e.seq}`}: ${errnoText(e.error ?? 0)}`;
      });
      throw fail(`transaction aborted, nothing applied: ${[...new Set(what)].join('; ')}`);
    }
    if (!rs.some((r) => r.type === NLMSG_ERROR && r.seq === lastSeq)) throw fail('no acknowledgement for the transaction');
  }

  return {
    kind: 'netlink',
    async apply(commands, netns) {
      const list: NftCommand[] = [...commands];
      const t = translate(list);
      if (!t) return cli.apply(list, netns);
      // nft makes tables and sets (their NEWTABLE/NEWSET carry nft's portid, not ours: see createFanout).
      if (t.create.length > 0) await monitors.creating(netns, t.create, () => cli.apply(t.create, netns));
      if (t.ops.length === 0) return;
      try {
        await serial(netns, () => monitors.own(netns, elementCount(t.ops), () => transact(sockFor(netns), t.ops)));
      } catch (err) {
        if (err instanceof NfnlTimeout) {
          throw new SidecarError('NFT_TIMEOUT', 'nft', `netlink${netns !== undefined ? ` (netns ${netns})` : ''}: ${err.message}; the sets it touched are unknown until read back`, { cause: err });
        }
        if (err instanceof SidecarError) throw err;
        throw fail(err instanceof Error ? err.message : String(err), err);
      }
    },
    describeSet: (ref, netns) => cli.describeSet(ref, netns),
    listSet: (ref, netns) => cli.listSet(ref, netns),
    monitor: (o) => monitors.monitor(o),
  };
}

/**
 * The backend the daemon uses: netlink where it can run (Linux, koffi loads), else the nft CLI.
 * `UNBOUND_SIDECAR_NFT_BACKEND=cli|netlink` forces one (benchmarks compare both in one run).
 */
export function createDefaultNftBackend(opts: { timeoutMs?: number; deadlineMs?: number } = {}): NftBackend {
  const forced = process.env.UNBOUND_SIDECAR_NFT_BACKEND;
  if (forced === 'cli' || (forced !== 'netlink' && netlinkUnavailable() !== undefined)) return createNftBackend(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  return createNetlinkBackend(opts);
}
