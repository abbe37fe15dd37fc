import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replaces `path` so that a crash leaves the old file or the new one, never half of one: written to
 * a temp file beside it (mode 0600), fsynced, renamed over the old one, then the directory fsynced —
 * the rename is durable only once the directory entry is (ext4 data=ordered still needs this). The
 * temp file is removed when writing fails.
 */
export async function writeFileAtomic(path: string, data: string | readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    if (typeof data === 'string') await fh.writeFile(data);
    else await fh.writev([...data]);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
