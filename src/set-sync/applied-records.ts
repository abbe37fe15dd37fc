import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { writeFileAtomic } from '../lib/fs/atomic-write.js';
import { RANGE_BYTES, rangeSetBytes, rangeSetFromBytes } from '../lib/ip-prefix/range-bytes.js';
import type { IpFamily, RangeSet } from '../lib/ip-prefix/index.js';
import type { KernelStamp } from '../lib/nft/nft-backend.js';

/**
 * What this process's writes left in a namespace's sets, kept across runs, so that the next
 * oneshot `sync` need not read 300k ranges back (a netlink dump of an interval set restarts its
 * walk for every 32 KiB message: ~5.7 s of kernel time at 300k, src/lib/nft/README.md) when
 * nothing has changed the namespace's ruleset since.
 *
 * A record is the stamp after our last commit — boot id, the namespace's SO_NETNS_COOKIE, the
 * ruleset generation — and each set's exact contents then. It is believed only while the stamp
 * is unchanged: any commit by anyone, in that namespace, moves the generation (nf_tables_commit
 * bumps base_seq once per commit that changes something), a re-created namespace has another
 * cookie, a reboot another boot id. It is written only when the generation moved by exactly our
 * own commits during the write, each of which certainly changed something (it added or deleted
 * elements), so a foreign commit cannot hide among ours.
 *
 * File per namespace: "USSREC01" | u32le header length | header JSON | per set its ranges (u32
 * little-endian words) | sha256 of everything before; written atomically (lib/fs/atomic-write.ts).
 */
const MAGIC = Buffer.from('USSREC01');

const headerSchema = z.object({
  version: z.literal(1),
  bootId: z.string(),
  netnsCookie: z.string(),
  generation: z.number().int().nonnegative(),
  sets: z.array(z.object({ key: z.string(), family: z.enum(['ipv4', 'ipv6']), size: z.number().int().nonnegative() })),
});

export interface NetnsRecord {
  readonly bootId: string;
  readonly stamp: KernelStamp;
  /** By set key (family|table|set). */
  readonly sets: ReadonlyMap<string, RangeSet>;
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** This boot's id (empty where /proc does not say: then nothing is ever recorded). */
export function bootId(): string {
  try {
    return readFileSync(BOOT_ID_FILE, 'utf8').trim();
  } catch {
    return '';
  }
}

/** `%`-escaped so any netns name makes one plain file name. */
export function recordPath(dir: string, netns: string | undefined): string {
  return join(dir, `${netns === undefined ? 'host' : `netns-${encodeURIComponent(netns).replace(/\./g, '%2E')}`}.applied`);
}

export async function writeRecord(file: string, rec: NetnsRecord): Promise<void> {
  const sets = [...rec.sets].map(([key, set]) => ({ key, family: set.family, size: set.size }));
  const header = Buffer.from(JSON.stringify({ version: 1, bootId: rec.bootId, netnsCookie: rec.stamp.netnsCookie, generation: rec.stamp.generation, sets }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const chunks: Buffer[] = [MAGIC, len, header, ...[...rec.sets.values()].map(rangeSetBytes)];
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  chunks.push(hash.digest());
  await writeFileAtomic(file, chunks);
}

export type RecordRead = { kind: 'none' } | { kind: 'corrupt'; reason: string } | { kind: 'ok'; record: NetnsRecord };

export async function readRecord(file: string): Promise<RecordRead> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'corrupt', reason: `unreadable: ${errorMessage(err)}` };
  }
  if (buf.length < MAGIC.length + 4 + 32 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { kind: 'corrupt', reason: 'not a set-sync record (bad magic or too short)' };
  if (
    !createHash('sha256')
      .update(buf.subarray(0, buf.length - 32))
      .digest()
      .equals(buf.subarray(buf.length - 32))
  )
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  let off = MAGIC.length + 4 + buf.readUInt32LE(MAGIC.length);
  let header: z.infer<typeof headerSchema>;
  try {
    header = headerSchema.parse(JSON.parse(buf.toString('utf8', MAGIC.length + 4, off)) as unknown);
  } catch (err) {
    return { kind: 'corrupt', reason: `bad header: ${errorMessage(err).slice(0, 200)}` };
  }
  const end = buf.length - 32;
  const sets = new Map<string, RangeSet>();
  for (const h of header.sets) {
    const n = h.size * RANGE_BYTES[h.family as IpFamily];
    const set = rangeSetFromBytes(h.family, off + n <= end ? buf.subarray(off, off + n) : undefined);
    if (typeof set === 'string') return { kind: 'corrupt', reason: `set ${h.key}: ${set}` };
    off += n;
    sets.set(h.key, set);
  }
  if (off !== end) return { kind: 'corrupt', reason: 'trailing bytes' };
  return { kind: 'ok', record: { bootId: header.bootId, stamp: { netnsCookie: header.netnsCookie, generation: header.generation }, sets } };
}

export async function removeRecord(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The record describes the namespace as it is now. */
export const recordHolds = (rec: NetnsRecord, boot: string, now: KernelStamp): boolean =>
  boot !== '' && rec.bootId === boot && rec.stamp.netnsCookie === now.netnsCookie && rec.stamp.generation === now.generation;
