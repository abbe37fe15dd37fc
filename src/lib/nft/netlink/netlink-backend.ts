import { SidecarError } from '../../../errors.js';
import { SerialQueues } from '../../concurrency/index.js';
import { createNftBackend, NftSetError, type NftBackend } from '../nft-backend.js';
import { setRefText, type NftCommand, type SetRef } from '../nft-json.js';
import { translate, type Translated } from './commands.js';
import { errnoText, netlinkUnavailable } from '../../libc/libc.js';
import { createMonitorFanout } from './monitor-fanout.js';
import { NetnsSockets } from './netns-sockets.js';
import { DEFAULT_DEADLINE_MS, NfnlTimeout, type NfnlSocket, type sendOffThread } from './nfnl-socket.js';
import { createSetReader } from './set-reader.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NlWriter, NLMSG_ERROR } from './nl-writer.js';
import { createdSetInfo, encodeCreate } from './set-create.js';
import { encodeElemOp, NFNL_SUBSYS_NFTABLES, type ElemOp, type SetInfo } from './set-elements.js';
import { generation, lookupSet } from './set-info.js';
import { createQuietWindow, ownCommit } from './quiet-window.js';

/**
 * An NftBackend that writes set elements with nfnetlink directly (no nft process, no cache fill):
 * nft 1.0.6 lists every interval set of the table before any element change (a quadratic kernel
 * dump) and spends ~1.5 µs × set size per deleted interval; the kernel itself does each element in
 * O(log n). Tables and sets are created in the same batch (set-create.ts), and sets are read over
 * netlink too (set-reader.ts: a GETSETELEM dump, no nft JSON). monitor() follows an in-process
 * netlink subscription with exact attribution (monitor-fanout.ts); every request has a deadline
 * (DEFAULT_DEADLINE_MS). Transactions with commands the encoder does not know go to the nft CLI.
 *
 * A transaction is ONE batch (NFNL_MSG_BATCH_BEGIN … END, res_id NFNL_SUBSYS_NFTABLES) in ONE
 * send: nfnetlink_rcv_batch() commits or aborts the whole skb, so it is all or nothing exactly like
 * `nft -f`. Only the last message asks for an ACK: errors are reported whatever the flags
 * (nfnetlink.c: `if (nlh->nlmsg_flags & NLM_F_ACK || err)`), so success is "that ACK and no error".
 */

const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;

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
  /** For transactions the netlink encoder does not know (run by the nft CLI). */
  timeoutMs?: number;
  /** Per netlink request (DEFAULT_DEADLINE_MS). */
  deadlineMs?: number;
  /** Tests: a slow off-thread send, to exercise the deadline. */
  sendAsync?: typeof sendOffThread;
}

export function createNetlinkBackend(opts: NetlinkBackendOptions = {}): NftBackend {
  const cli = opts.cli ?? createNftBackend(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  const reader = createSetReader();
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const reqOpts = { deadlineMs, ...(opts.sendAsync ? { sendAsync: opts.sendAsync } : {}) };
  const conns = new NetnsSockets();
  /** One request at a time per namespace: responses are drained by whoever sent last. */
  const requests = new SerialQueues();
  const monitors = createMonitorFanout((netns) => conns.peek(netns)?.portid);

  /** The socket for a namespace, taken when the job runs: a fresh one after a deadline or a re-created namespace. */
  function sockFor(netns: string | undefined): NfnlSocket {
    try {
      return conns.get(netns).sock;
    } catch (err) {
      throw fail(`cannot open a netfilter socket${netns !== undefined ? ` in netns ${netns}` : ''}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }

  const serial = <T>(netns: string | undefined, job: () => Promise<T>): Promise<T> => requests.run(netns ?? '', job);

  /** What each set of the batch is: asked with GETSET, or (for a set this batch creates) what the create says. */
  async function setInfos(sock: NfnlSocket, t: Translated): Promise<Map<string, SetInfo>> {
    const created = new Map<string, SetInfo>();
    for (const c of t.create) if (c.op === 'set') created.set(setRefText(c.ref), createdSetInfo(c));
    const infos = new Map<string, SetInfo>();
    for (const op of t.ops) {
      const k = setRefText(op.ref);
      if (op.op === 'flush' || infos.has(k)) continue;
      let found: Awaited<ReturnType<typeof lookupSet>>;
      try {
        found = await lookupSet(sock, op.ref);
      } catch (err) {
        const errno = (err as { errno?: unknown }).errno;
        throw fail(`set ${k}: ${typeof errno === 'number' ? errnoText(errno) : err instanceof Error ? err.message : String(err)}`, err);
      }
      const info = found.kind === 'ok' ? found.set : created.get(k);
      if (info) infos.set(k, info);
      else {
        const why = found.kind === 'missing' && found.what === 'table' ? `table ${op.ref.family} ${op.ref.table} does not exist` : `table ${op.ref.family} ${op.ref.table} has no set ${op.ref.set}`;
        throw new NftSetError('NFT_APPLY_FAILED', 'nft', `netlink: ${op.op} element ${k}: ${errnoText(2)}: ${why}`, [op.ref]);
      }
    }
    return infos;
  }

  async function transact(sock: NfnlSocket, t: Translated): Promise<void> {
    const infos = await setInfos(sock, t);
    let hint = 4096 + 256 * t.create.length;
    for (const op of t.ops) if (op.op !== 'flush') hint += op.elems.kind === 'ranges' ? op.elems.set.size * (op.elems.set.family === 'ipv4' ? 44 : 76) : op.elems.items.length * 76;
    const w = new NlWriter(hint);
    /** First sequence number of each command, what to call it in an error, and its set. */
    const seqOf: { from: number; what: string; ref?: SetRef }[] = [];
    let seq = sock.nextSeq(1);
    const begin = w.beginMsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES);
    w.endMsg(begin);
    const nextSeq = (): number => (seq = sock.nextSeq(1));
    let last = -1;
    t.create.forEach((c, i) => {
      last = encodeCreate(w, c, nextSeq(), i + 1);
      seqOf.push(c.op === 'table' ? { from: seq, what: `add table ${c.family} ${c.table}` } : { from: seq, what: `add set ${setRefText(c.ref)}`, ref: c.ref });
    });
    for (const op of t.ops) {
      seqOf.push({ from: seq + 1, what: `${op.op} ${op.op === 'flush' ? 'set' : 'element'} ${setRefText(op.ref)}`, ref: op.ref });
      try {
        last = encodeElemOp(w, op, infos.get(setRefText(op.ref)), nextSeq, NLM_F_REQUEST | (op.op === 'add' ? NLM_F_CREATE : 0));
      } catch (err) {
        throw new NftSetError('NFT_APPLY_FAILED', 'nft', `netlink: ${op.op} element ${setRefText(op.ref)}: ${err instanceof Error ? err.message : String(err)}`, [op.ref], { cause: err });
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
      const blamed = new Map<string, SetRef>();
      const what = errors.map((e) => {
        // The kernel answers an error with the failed message's nlmsg_seq (netlink_ack); a commit-time error carries the batch's.
        const cmd = [...seqOf].reverse().find((s) => s.from <= e.seq);
        if (cmd?.ref) blamed.set(setRefText(cmd.ref), cmd.ref);
        return `${cmd ? cmd.what : `message ${e.seq}`}: ${errnoText(e.error ?? 0)}`;
      });
      throw new NftSetError('NFT_APPLY_FAILED', 'nft', `netlink: transaction aborted, nothing applied: ${[...new Set(what)].join('; ')}`, [...blamed.values()]);
    }
    if (!rs.some((r) => r.type === NLMSG_ERROR && r.seq === lastSeq)) throw fail('no acknowledgement for the transaction');
  }

  return {
    kind: 'netlink',
    async apply(commands, netns) {
      const list: NftCommand[] = [...commands];
      const t = translate(list);
      if (!t) return cli.apply(list, netns);
      if (t.create.length === 0 && t.ops.length === 0) return;
      try {
        // Creates ride in the batch, so their NEWTABLE/NEWSET carry our portid like the elements' do.
        // ownCommit: every commit of this process in the namespace is accounted for while a quiet window is open.
        await serial(netns, () => ownCommit(netns, () => monitors.own(netns, elementCount(t.ops), () => transact(sockFor(netns), t))));
      } catch (err) {
        if (err instanceof NfnlTimeout) {
          throw new SidecarError('NFT_TIMEOUT', 'nft', `netlink${netns !== undefined ? ` (netns ${netns})` : ''}: ${err.message}; the sets it touched are unknown until read back`, { cause: err });
        }
        if (err instanceof SidecarError) throw err;
        throw fail(err instanceof Error ? err.message : String(err), err);
      }
    },
    describeSet: (ref, netns) => reader.describeSet(ref, netns),
    listSet: (ref, netns) => reader.listSet(ref, netns),
    async readRanges(ref, netns) {
      const r = await reader.readSet(ref, netns);
      return r.kind === 'missing' ? r : { kind: 'ok', set: r.ranges };
    },
    // In the namespace's request queue: after every transaction of ours sent before it has been acknowledged.
    kernelStamp: (netns) =>
      serial(netns, async () => {
        const sock = sockFor(netns);
        const netnsCookie = sock.netnsCookie();
        return netnsCookie === undefined ? undefined : { netnsCookie, generation: await generation(sock) };
      }),
    monitor: (o) => monitors.monitor(o),
    quietWindow: () => createQuietWindow(),
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
