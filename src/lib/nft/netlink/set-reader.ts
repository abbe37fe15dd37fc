import { SidecarError } from '../../../errors.js';
import { formatAddress, WORDS, type IpFamily, type RangeSet } from '../../ip-prefix/index.js';
import type { SetDescription, SetListing } from '../nft-backend.js';
import { setRefText, type NftElementJson, type SetRef } from '../nft-json.js';
import { errnoText } from '../../libc/libc.js';
import { NetnsSockets, type Conn } from './netns-sockets.js';
import type { NfnlSocket } from './nfnl-socket.js';
import { dump, NLM_F_DUMP } from './nl-dump.js';
import { NLM_F_REQUEST, NlWriter } from './nl-writer.js';
import { ElementSink } from './set-dump.js';
import { describe, generation, jsonFlags, lookupSet, NFT_MSG_GETSETELEM, typeName, type KernelSet } from './set-info.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_TABLE, NFT_SET_INTERVAL, NFT_SET_TIMEOUT } from './set-elements.js';

/**
 * Reads sets over netlink: GETSET (+ GETTABLE to tell a missing table from a missing set) and a
 * GETSETELEM dump decoded part by part into packed arrays (set-dump.ts). One socket per namespace,
 * its own (not the write socket): a read never waits behind a long transaction, and a failed or
 * timed-out dump closes just this socket, which ends the dump in the kernel.
 *
 * A dump is not a snapshot: each part walks the set again, so a commit between parts can shift
 * elements between them. The ruleset generation (GETGEN) is compared before and after; a listing
 * that straddled a commit is repeated (up to 3 times, and only while a dump takes < 2 s: the
 * kernel's cost of a dump is quadratic in the set's size) and otherwise returned with
 * `consistent: false`. Any commit in the namespace counts (another set's too): GETGEN is global.
 */

export type SetRead =
  | { kind: 'ok'; set: KernelSet; family: IpFamily; ranges: RangeSet; timeoutMs?: Float64Array; expiresMs?: Float64Array; consistent: boolean }
  | { kind: 'missing'; what: 'table' | 'set' };

const ATTEMPTS = 3;
/** A dump that took longer is not repeated (its cost is quadratic in the set's size): it is returned as not consistent. */
const RETRY_MAX_MS = 2000;
/** Like the CLI backend's nft timeout: a 1M-range dump takes the kernel minutes on a loaded machine (README). */
const DEFAULT_DEADLINE_MS = 180_000;

const fail = (msg: string, cause?: unknown): SidecarError => new SidecarError('NFT_APPLY_FAILED', 'nft', `netlink: ${msg}`, cause === undefined ? undefined : { cause });

export interface SetReader {
  describeSet(ref: SetRef, netns?: string): Promise<SetDescription>;
  listSet(ref: SetRef, netns?: string): Promise<SetListing>;
  /** Exact ranges as stored (interval sets paired like nft does; plain sets one range per key), with timeouts for timeout sets. */
  readSet(ref: SetRef, netns?: string): Promise<SetRead>;
  close(): void;
}

export function createSetReader(opts: { deadlineMs?: number } = {}): SetReader {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const conns = new NetnsSockets();

  /** Runs `fn` alone on the namespace's socket; any error closes the socket (a dump may be half-read). */
  async function withSocket<T>(ref: SetRef, netns: string | undefined, fn: (sock: NfnlSocket) => Promise<T>): Promise<T> {
    let c: Conn;
    try {
      c = conns.get(netns);
    } catch (err) {
      throw fail(`cannot open a netfilter socket${netns !== undefined ? ` in netns ${netns}` : ''}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    try {
      return await c.queue.run(() => fn(c.sock));
    } catch (err) {
      conns.drop(netns, c);
      if (err instanceof SidecarError) throw err;
      const errno = (err as { errno?: unknown }).errno;
      const why = typeof errno === 'number' && errno !== 0 ? errnoText(errno) : err instanceof Error ? err.message : String(err);
      throw fail(`list set ${setRefText(ref)}: ${why}`, err);
    }
  }

  async function dumpOnce(sock: NfnlSocket, ref: SetRef, s: KernelSet, family: IpFamily): Promise<{ kind: 'dumped'; sink: ElementSink; interrupted: boolean } | { kind: 'missing' }> {
    const w = new NlWriter(256);
    const seq = sock.nextSeq(1);
    const at = w.beginMsg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO[ref.family], 0);
    w.str(NFTA_SET_ELEM_LIST_TABLE, ref.table);
    w.str(NFTA_SET_ELEM_LIST_SET, ref.set);
    w.endMsg(at);
    const sink = new ElementSink(family, (s.flags & NFT_SET_TIMEOUT) !== 0);
    const r = await dump(sock, Buffer.from(w.bytes()), seq, (_type, payload) => sink.addMessage(payload), performance.now() + deadlineMs);
    if (r.kind === 'error') {
      if (r.errno === 2) return { kind: 'missing' };
      throw Object.assign(new Error('GETSETELEM failed'), { errno: r.errno });
    }
    return { kind: 'dumped', sink, interrupted: r.interrupted };
  }

  async function readSet(ref: SetRef, netns?: string): Promise<SetRead> {
    return withSocket(ref, netns, async (sock) => {
      for (let attempt = 1; ; attempt++) {
        const found = await lookupSet(sock, ref);
        if (found.kind === 'missing') return found;
        const s = found.set;
        const family: IpFamily | undefined = s.keyLen === 4 ? 'ipv4' : s.keyLen === 16 ? 'ipv6' : undefined;
        if (!family) throw fail(`set ${setRefText(ref)} is not an address set (${typeName(s.keyType)}, key of ${s.keyLen} bytes)`);
        const before = await generation(sock);
        const t0 = performance.now();
        const got = await dumpOnce(sock, ref, s, family);
        // Deleted between GETSET and the dump: the next GETSET says which is missing now.
        if (got.kind === 'missing') {
          if (attempt < ATTEMPTS) continue;
          throw fail(`set ${setRefText(ref)} was deleted and re-created during every listing`);
        }
        const { sink } = got;
        const consistent = (await generation(sock)) === before && !got.interrupted;
        if (!consistent && attempt < ATTEMPTS && performance.now() - t0 < RETRY_MAX_MS) continue;
        if (sink.foreign > 0) throw fail(`set ${setRefText(ref)}: ${sink.foreign} elements with a key that is not ${s.keyLen} bytes`);
        if (s.flags & NFT_SET_INTERVAL) return { kind: 'ok', set: s, family, ranges: sink.toRanges(), consistent };
        const e = sink.toEntries();
        return { kind: 'ok', set: s, family, ranges: e.keys, ...((s.flags & NFT_SET_TIMEOUT) !== 0 ? { timeoutMs: e.timeoutMs, expiresMs: e.expiresMs } : {}), consistent };
      }
    });
  }

  return {
    readSet,
    async describeSet(ref, netns) {
      const found = await withSocket(ref, netns, (sock) => lookupSet(sock, ref));
      return found.kind === 'missing' ? found : describe(found.set);
    },
    async listSet(ref, netns) {
      const r = await readSet(ref, netns);
      if (r.kind === 'missing') return r;
      const elements: NftElementJson[] = [];
      for (let i = 0; i < r.ranges.size; i++) elements.push(nftElement(r.ranges, i));
      return { kind: 'ok', set: { family: ref.family, table: ref.table, name: ref.set, type: typeName(r.set.keyType), flags: jsonFlags(r.set), elements } };
    },
    close: () => conns.closeAll(),
  };
}

/**
 * An address as nft prints it: inet_ntop(3). That is formatAddress (RFC 5952) except for the two
 * forms glibc's inet_ntop6 writes with an embedded IPv4 address: `::a.b.c.d` (first 96 bits zero,
 * word 6 not) and `::ffff:a.b.c.d`.
 */
export function nftAddressText(family: IpFamily, d: Uint32Array, off: number): string {
  if (family === 'ipv6' && d[off] === 0 && d[off + 1] === 0) {
    const v4 = (): string => formatAddress('ipv4', d, off + 3);
    if (d[off + 2] === 0 && d[off + 3]! >>> 16 !== 0) return `::${v4()}`;
    if (d[off + 2] === 0xffff) return `::ffff:${v4()}`;
  }
  return formatAddress(family, d, off);
}

/** Range i as the element nft lists for it (src/segtree.c add_interval): an address, a prefix or a range. */
export function nftElement(set: RangeSet, i: number): NftElementJson {
  const w = WORDS[set.family];
  const f = i * 2 * w;
  const d = set.data;
  const first = nftAddressText(set.family, d, f);
  // nft: a prefix when last - first = 2^h - 1 and first has those h bits clear. From the low word
  // up: whole host words (0 / all ones), at most one partial word, then equal words.
  let h = 0;
  let k = w - 1;
  for (; k >= 0 && d[f + k] === 0 && d[f + w + k] === 0xffffffff; k--) h += 32;
  if (k >= 0) {
    const a = d[f + k]!;
    const x = (a ^ d[f + w + k]!) >>> 0;
    if ((x & (x + 1)) !== 0 || (a & x) !== 0) return range();
    h += 32 - Math.clz32(x);
    for (k--; k >= 0; k--) if (d[f + k] !== d[f + w + k]) return range();
  }
  if (h === 0) return first;
  return { prefix: { addr: first, len: 32 * w - h } };

  function range(): NftElementJson {
    return { range: [first, nftAddressText(set.family, d, f + w)] };
  }
}
