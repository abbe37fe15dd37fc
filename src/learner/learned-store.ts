import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { removeStaleTemps, SerialFileWriter, writeFileAtomic } from '../lib/fs/atomic-write.js';
import type { IpFamily } from '../lib/ip-prefix/index.js';
import { isRecord } from '../lib/narrow/is-record.js';

/**
 * What the learner has put in the sets, with expiries and the name that led there — persisted in
 * stateDir so a restart re-submits them with their remaining timeout (repeat visits stay race-free
 * across restarts), and read by `lookup`. Also the runtime domain additions.
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
  /** ms since the epoch. */
  readonly expires: number;
  /** The listed name (or CNAME chain head) the address was learned for. */
  readonly name: string;
  /**
   * The name in the answer's chain that the list matched (what justifies the address: when no list
   * entry covers it any more, the address is pruned). Absent in files from before it was kept.
   */
  readonly matched?: string;
}

export const LEARNED_FILE = 'learned.json';
export const DOMAINS_FILE = 'learner-domains.json';

export class LearnedStore {
  private readonly entries = new Map<string, LearnedEntry>();
  private dirty = false;
  private readonly writer: SerialFileWriter;

  constructor(
    stateDir: string,
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

  /** Drops expired entries; returns how many. */
  expire(now = Date.now()): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expires <= now) {
        this.entries.delete(k);
        n++;
      }
    }
    if (n > 0) this.dirty = true;
    return n;
  }

  byAddress(address: string, now = Date.now()): LearnedEntry[] {
    return [...this.entries.values()].filter((e) => e.address === address && e.expires > now);
  }

  byName(name: string, now = Date.now()): LearnedEntry[] {
    return [...this.entries.values()].filter((e) => e.name === name && e.expires > now);
  }

  all(): IterableIterator<LearnedEntry> {
    return this.entries.values();
  }

  /** Unexpired entries per list and family. */
  counts(now = Date.now()): { list: string; family: IpFamily; count: number }[] {
    const c = new Map<string, { list: string; family: IpFamily; count: number }>();
    for (const e of this.entries.values()) {
      if (e.expires <= now) continue;
      const byList = `${e.family} ${e.list}`;
      const row = c.get(byList);
      if (row) row.count++;
      else c.set(byList, { list: e.list, family: e.family, count: 1 });
    }
    return [...c.values()];
  }

  /** Loads the file, dropping expired and malformed rows (and temp files a killed process left). Missing file = empty. */
  async load(now = Date.now()): Promise<{ loaded: number; dropped: number }> {
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
      const e: LearnedEntry = { list, family: v === 4 ? 'ipv4' : 'ipv6', address: address as string, expires: expSec * 1000, name };
      this.entries.set(`${list}|${address as string}`, typeof matched === 'string' ? { ...e, matched } : e);
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

  private render(): string {
    const rows: string[] = [];
    const now = Date.now();
    for (const e of this.entries.values()) if (e.expires > now) rows.push(JSON.stringify([e.list, e.address, Math.ceil(e.expires / 1000), e.name, ...(e.matched !== undefined ? [e.matched] : [])]));
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
