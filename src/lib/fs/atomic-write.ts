import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SerialQueue } from '../concurrency/index.js';

/** Per-process sequence: two writes of one path never share a temp name (rename(2) of a name the other already renamed is ENOENT). */
let sequence = 0;

const tempPrefix = (path: string): string => `${basename(path)}.tmp-`;

/**
 * Replaces `path` so that a crash leaves the old file or the new one, never half of one: written to
 * a temp file beside it (mode 0600, a name no other write uses), fsynced, renamed over the old one,
 * then the directory fsynced — the rename is durable only once the directory entry is (ext4
 * data=ordered still needs this). The temp file is removed when any step before the rename fails.
 */
export async function writeFileAtomic(path: string, data: string | readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `${tempPrefix(path)}${process.pid}-${++sequence}`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    try {
      if (typeof data === 'string') await fh.writeFile(data);
      else await fh.writev([...data]);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Removes temp files of `path` that a killed process left (SIGKILL, power loss between open and
 * rename). Only call it before this process writes `path`. Returns how many were removed.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const prefix = tempPrefix(path);
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    if (
      await unlink(join(dirname(path), name)).then(
        () => true,
        () => false,
      )
    )
      n++;
  }
  return n;
}

/**
 * One file written again and again (the learner's store): writes never overlap, one runs at a time
 * and at most one waits behind it. A write asked for while another waits replaces it — newest wins
 * — and both callers get the outcome of the write that carries the newer content. `render` runs
 * when its write starts, so what lands on disk is as fresh as it can be.
 */
export class SerialFileWriter {
  private readonly writes = new SerialQueue();

  constructor(readonly path: string) {}

  write(render: () => string | readonly Uint8Array[]): Promise<void> {
    // Rendered a microtask after the write starts: what the caller changes in the same turn is in it.
    return this.writes.latest('file', render, (r) => Promise.resolve().then(() => writeFileAtomic(this.path, r())));
  }

  /** Resolves once nothing is running or waiting (whatever the outcomes). */
  async idle(): Promise<void> {
    while (this.writes.busy) await this.writes.idle();
  }
}
