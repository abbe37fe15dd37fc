import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { removeStaleTemps, SerialFileWriter, writeFileAtomic } from '../lib/fs/atomic-write.js';
import type { IpFamily } from '../lib/ip-prefix/index.js';
import { isRecord } from '../lib/narrow/is-record.js';

/**
 * What the learner has put in the sets and why: the list, the address, the name that led there and
 * the chain name the list matched — persisted in stateDir so a restart re-submits them with their
 * remaining timeout (repeat visits stay race-free across restarts), and read by `lookup`. Also the
 * runtime domain additions.
 *
 * Until when an address is in its set is not kept here: set-sync's learned sets hold the one clock
 * (what the kernel was told, `LearnedSets.expiryReader`), read through `KernelExpiry`. A row whose
 * element set-sync does not hold (expired, removed, never written) is dropped at the next `expire`.
 *
 * Files are one compact JSON document each (`[list, address, expiresSec, name, matched]` rows — at 100k
 * learned addresses ~6 MB), written to a temp file, fsynced and renamed: a crash leaves the old
 * or the new file, never half of one. Saves of the store go through one SerialFileWriter: the
 * housekeeping save and the final save on stop never write at the same time, and a save asked for
 * while two are pending costs nothing (newest wins).
 */

export interface LearnedEntry {
  readonly list: string;
  readonly family: IpFamily;
  readonly address: string;
  /** The listed name (or CNAME chain head) the address was learned for. */
  readonly name: string;
  /**
   * The name in the answer's chain that the list matched (what justifies the address: when no list
   * entry covers it any more, the address is pruned). Absent in files from before it was kept.
   */
  readonly matched?: string;
}

/**
 * The kernel-side expiry (ms since the epoch) of one list's learned addresses of one family, as
 * set-sync last wrote it; undefined when the list has no such set. The reader answers undefined
 * for an address set-sync does not hold.
 */
export type KernelExpiry = (list: string, family: IpFamily) => ((address: string) => number | undefined) | undefined;

export const LEARNED_FILE = 'learned.json';
export const DOMAINS_FILE = 'learner-domains.json';

export class LearnedStore {
  private readonly entries = new Map<string, LearnedEntry>();
  private dirty = false;
  private readonly writer: SerialFileWriter;

  constructor(
    stateDir: string,
    private readonly kernelExpiry: KernelExpiry,
    private readonly maxEntries = 1_000_000,
  ) {
    this.writer = new SerialFileWriter(join(stateDir, LEARNED_FILE));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Returns false when the store is full and the entry is new (bounded memory). */
  record(e: LearnedEntry): boolean {
    const k = `${e.list}|${e.address}`;
    if (!this.entries.has(k) && this.entries.size >= this.maxEntries) return false;
    this.entries.set(k, e);
    this.dirty = true;
    return true;
  }

  delete(list: string, address: string): void {
    if (this.entries.delete(`${list}|${address}`)) this.dirty = true;
  }

  /** Drops the rows whose element set-sync no longer holds; returns how many. */
  expire(): number {
    let n = 0;
    const expiry = this.expiries();
    for (const [k, e] of this.entries) {
      if (expiry(e) === undefined) {
        this.entries.delete(k);
        n++;
      }
    }
    if (n > 0) this.dirty = true;
    return n;
  }

  /** Rows for `address` whose element is in its set, with its expiry (ms since the epoch). */
  byAddress(address: string): { entry: LearnedEntry; expires: number }[] {
    return this.held((e) => e.address === address);
  }

  /** Rows learned for `name` whose element is in its set, with its expiry. */
  byName(name: string): { entry: LearnedEntry; expires: number }[] {
    return this.held((e) => e.name === name);
  }

  all(): IterableIterator<LearnedEntry> {
    return this.entries.values();
  }

  /** Rows whose element is in its set, per list and family. */
  counts(): { list: string; family: IpFamily; count: number }[] {
    const c = new Map<string, { list: string; family: IpFamily; count: number }>();
    const expiry = this.expiries();
    for (const e of this.entries.values()) {
      if (expiry(e) === undefined) continue;
      const byList = `${e.family} ${e.list}`;
      const row = c.get(byList);
      if (row) row.count++;
      else c.set(byList, { list: e.list, family: e.family, count: 1 });
    }
    return [...c.values()];
  }

  /**
   * Loads the file, dropping expired and malformed rows (and temp files a killed process left);
   * each loaded row is handed to `resubmit` with the expiry the file gave it, for set-sync to
   * write again with what is left of it. Missing file = empty.
   */
  async load(resubmit: (e: LearnedEntry, expires: number) => void, now = Date.now()): Promise<{ loaded: number; dropped: number }> {
    await removeStaleTemps(this.writer.path);
    const doc = await readJson(this.writer.path);
    let loaded = 0;
    let dropped = 0;
    const rows = isRecord(doc) && doc.version === 1 && Array.isArray(doc.entries) ? (doc.entries as unknown[]) : [];
    for (const r of rows) {
      // 4 columns: written before `matched` was kept.
      if (!Array.isArray(r) || (r.length !== 4 && r.length !== 5)) {
        dropped++;
        continue;
      }
      const [list, address, expSec, name, matched] = r as unknown[];
      const v = typeof address === 'string' ? isIP(address) : 0;
      if (typeof list !== 'string' || typeof expSec !== 'number' || typeof name !== 'string' || v === 0 || expSec * 1000 <= now || (matched !== undefined && typeof matched !== 'string')) {
        dropped++;
        continue;
      }
      const bare: LearnedEntry = { list, family: v === 4 ? 'ipv4' : 'ipv6', address: address as string, name };
      const e = typeof matched === 'string' ? { ...bare, matched } : bare;
      this.entries.set(`${list}|${e.address}`, e);
      resubmit(e, expSec * 1000);
      loaded++;
    }
    return { loaded, dropped };
  }

  /**
   * Writes the store when it changed (or `force`). Rejects when the write fails; the store stays
   * dirty then, so the next save tries again.
   */
  async save(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    this.dirty = false;
    try {
      await this.writer.write(() => this.render());
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  /** Resolves when no save is running or waiting. */
  idle(): Promise<void> {
    return this.writer.idle();
  }

  /** One pass's expiry lookup: a reader per list and family, made once. */
  private expiries(): (e: LearnedEntry) => number | undefined {
    const readers = new Map<string, ((address: string) => number | undefined) | undefined>();
    return (e) => {
      const k = `${e.family} ${e.list}`;
      let r = readers.get(k);
      if (r === undefined && !readers.has(k)) readers.set(k, (r = this.kernelExpiry(e.list, e.family)));
      return r?.(e.address);
    };
  }

  private held(pick: (e: LearnedEntry) => boolean): { entry: LearnedEntry; expires: number }[] {
    const expiry = this.expiries();
    const out: { entry: LearnedEntry; expires: number }[] = [];
    for (const e of this.entries.values()) {
      if (!pick(e)) continue;
      const expires = expiry(e);
      if (expires !== undefined) out.push({ entry: e, expires });
    }
    return out;
  }

  private render(): string {
    const rows: string[] = [];
    const expiry = this.expiries();
    for (const e of this.entries.values()) {
      const expires = expiry(e);
      if (expires !== undefined) rows.push(JSON.stringify([e.list, e.address, Math.ceil(expires / 1000), e.name, ...(e.matched !== undefined ? [e.matched] : [])]));
    }
    return `{"version":1,"entries":[\n${rows.join(',\n')}\n]}\n`;
  }
}

/** Runtime additions per list (`domains add`). */
export async function loadAdditions(stateDir: string): Promise<Map<string, string[]>> {
  await removeStaleTemps(join(stateDir, DOMAINS_FILE));
  const doc = await readJson(join(stateDir, DOMAINS_FILE));
  const out = new Map<string, string[]>();
  if (!isRecord(doc) || doc.version !== 1 || !isRecord(doc.lists)) return out;
  for (const [list, names] of Object.entries(doc.lists)) {
    if (Array.isArray(names))
      out.set(
        list,
        names.filter((n): n is string => typeof n === 'string'),
      );
  }
  return out;
}

export async function saveAdditions(stateDir: string, lists: ReadonlyMap<string, Iterable<string>>): Promise<void> {
  const obj: Record<string, string[]> = {};
  for (const [list, names] of lists) obj[list] = [...names].sort();
  await writeFileAtomic(join(stateDir, DOMAINS_FILE), `${JSON.stringify({ version: 1, lists: obj }, null, 1)}\n`);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // a corrupt file is a fresh start, not a refusal to start
  }
}
