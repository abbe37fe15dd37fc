import { createHash } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { rangeSetBytes, rangeSetFromBytes } from '../lib/ip-prefix/range-bytes.js';
import { writeFileAtomic } from '../lib/fs/atomic-write.js';
import type { SourceState } from './guard.js';

/**
 * The last good data of a list, per source, so a reboot without internet restores
 * the sets before the first download and a source that then fails still has its entries.
 *
 * File: "USBLSNP1" | u32le header length | header JSON | per source: ipv4 words, ipv6 words (u32
 * little-endian), domains ("\n"-joined UTF-8) | sha256 of everything before. Written to a temp file,
 * fsynced, renamed over the old one, directory fsynced — a crash leaves the old or the new file.
 */
const MAGIC = Buffer.from('USBLSNP1');

export interface ListSnapshot {
  list: string;
  /** When the model last changed (ListModel.updatedAt). */
  updatedAt: number;
  /** When every source last delivered (for the last-success metric after a restart). */
  lastSuccessAt?: number;
  sources: SourceState[];
}

const headerSchema = z.object({
  version: z.literal(1),
  list: z.string(),
  updatedAt: z.number(),
  lastSuccessAt: z.number().optional(),
  sources: z.array(
    z.object({
      url: z.string(),
      etag: z.string().optional(),
      lastModified: z.string().optional(),
      fetchedAt: z.number(),
      parsed: z.number().int().nonnegative(),
      bodyDigest: z.string().optional(),
      ipv4: z.number().int().nonnegative(),
      ipv6: z.number().int().nonnegative(),
      domainBytes: z.number().int().nonnegative(),
    }),
  ),
});

export function snapshotPath(stateDir: string, list: string): string {
  return join(stateDir, 'lists', `${list}.snapshot`);
}

export async function writeSnapshot(file: string, snap: ListSnapshot): Promise<void> {
  const body: Buffer[] = [];
  const sources = snap.sources.map((s) => {
    const domains = Buffer.from(s.domains.join('\n'), 'utf8');
    body.push(rangeSetBytes(s.ipv4), rangeSetBytes(s.ipv6), domains);
    return {
      url: s.url,
      etag: s.etag,
      lastModified: s.lastModified,
      fetchedAt: s.fetchedAt,
      parsed: s.parsed,
      bodyDigest: s.bodyDigest,
      ipv4: s.ipv4.size,
      ipv6: s.ipv6.size,
      domainBytes: domains.length,
    };
  });
  const header = Buffer.from(JSON.stringify({ version: 1, list: snap.list, updatedAt: snap.updatedAt, lastSuccessAt: snap.lastSuccessAt, sources }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const chunks = [MAGIC, len, header, ...body];
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  chunks.push(hash.digest());

  await writeFileAtomic(file, chunks);
}

/** Temp files left by a crash between write and rename (they carry the writer's pid). */
export async function removeStaleTemps(file: string): Promise<void> {
  const prefix = `${basename(file)}.tmp-`;
  const names = await readdir(dirname(file)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix) && n !== `${prefix}${process.pid}`).map((n) => unlink(join(dirname(file), n)).catch(() => undefined)));
}

export type SnapshotRead = { kind: 'snapshot'; snapshot: ListSnapshot } | { kind: 'none' } | { kind: 'corrupt'; problem: string };

/** The snapshot, `none` when there is no file, or `corrupt` saying what is wrong with it. */
export async function readSnapshot(file: string, list: string): Promise<SnapshotRead> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'corrupt', problem: `unreadable: ${(err as Error).message}` };
  }
  if (buf.length < MAGIC.length + 4 + 32 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { kind: 'corrupt', problem: 'not a snapshot file (bad magic or too short)' };
  const digest = createHash('sha256')
    .update(buf.subarray(0, buf.length - 32))
    .digest();
  if (!digest.equals(buf.subarray(buf.length - 32))) return { kind: 'corrupt', problem: 'checksum mismatch (truncated or damaged)' };
  const hlen = buf.readUInt32LE(MAGIC.length);
  let off = MAGIC.length + 4 + hlen;
  let header: z.infer<typeof headerSchema>;
  try {
    header = headerSchema.parse(JSON.parse(buf.toString('utf8', MAGIC.length + 4, off)) as unknown);
  } catch (err) {
    return { kind: 'corrupt', problem: `bad header: ${(err as Error).message.slice(0, 200)}` };
  }
  if (header.list !== list) return { kind: 'corrupt', problem: `belongs to list "${header.list}"` };
  const end = buf.length - 32;
  const take = (n: number): Buffer | undefined => {
    if (off + n > end) return undefined;
    const b = buf.subarray(off, off + n);
    off += n;
    return b;
  };
  const sources: SourceState[] = [];
  for (const h of header.sources) {
    const ipv4 = rangeSetFromBytes('ipv4', take(h.ipv4 * 8));
    const ipv6 = rangeSetFromBytes('ipv6', take(h.ipv6 * 32));
    const domains = take(h.domainBytes);
    if (typeof ipv4 === 'string' || typeof ipv6 === 'string' || domains === undefined) {
      return { kind: 'corrupt', problem: `source ${h.url}: ${typeof ipv4 === 'string' ? ipv4 : typeof ipv6 === 'string' ? ipv6 : 'domains cut short'}` };
    }
    const s: SourceState = { url: h.url, fetchedAt: h.fetchedAt, parsed: h.parsed, ipv4, ipv6, domains: h.domainBytes === 0 ? [] : domains.toString('utf8').split('\n') };
    if (h.etag !== undefined) s.etag = h.etag;
    if (h.lastModified !== undefined) s.lastModified = h.lastModified;
    if (h.bodyDigest !== undefined) s.bodyDigest = h.bodyDigest;
    sources.push(s);
  }
  if (off !== end) return { kind: 'corrupt', problem: 'trailing bytes' };
  const snap: ListSnapshot = { list, updatedAt: header.updatedAt, sources };
  if (header.lastSuccessAt !== undefined) snap.lastSuccessAt = header.lastSuccessAt;
  return { kind: 'snapshot', snapshot: snap };
}
