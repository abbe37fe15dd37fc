import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SidecarError } from '../../errors.js';

/**
 * Thin process I/O around the `nft` binary. Node cannot setns(2), so a command for a named network
 * namespace runs as `ip netns exec NAME nft …` (which also execs, so the pid is nft's own).
 */

export interface NftRunOptions {
  /** Named network namespace (`/run/netns/NAME`); undefined = ours. */
  readonly netns?: string;
  /** stdout beyond this is an error (a runaway listing must not take the daemon's memory). */
  readonly maxOutputBytes?: number;
  /** Default 120 s: a 1M-element commit takes ~10 s on nft 1.0.6; anything longer is stuck. */
  readonly timeoutMs?: number;
}

export interface NftRunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

const DEFAULT_MAX_OUTPUT = 512 * 1024 * 1024;
const STDERR_KEEP = 64 * 1024;

export function nftCommand(args: readonly string[], netns?: string): [string, string[]] {
  return netns === undefined ? ['nft', [...args]] : ['ip', ['netns', 'exec', netns, 'nft', ...args]];
}

/** Runs nft to completion. Never rejects for a non-zero exit (look at `code`); rejects when nft cannot start. */
export function runNft(args: readonly string[], opts: NftRunOptions = {}): Promise<NftRunResult> {
  const [cmd, argv] = nftCommand(args, opts.netns);
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let overflow = false;
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > max) {
        overflow = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < STDERR_KEEP) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SidecarError('NFT_APPLY_FAILED', 'nft', `cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (overflow) stderr = `output exceeded ${max} bytes; ${stderr}`;
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: stderr.trim(), code });
    });
  });
}

/** Long-running `nft …` (the monitor); the caller owns the process. */
export function spawnNft(args: readonly string[], netns?: string): ChildProcess {
  const [cmd, argv] = nftCommand(args, netns);
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * `nft -j -f FILE` with the document written piece by piece to a private temp file. Not stdin:
 * Node's child stdio "pipes" are socketpairs, and nft 1.0.6 opens `-f -` as /dev/stdin, which
 * fails with ENXIO on a socket. The file lives only for the run.
 */
export async function runNftDocument(pieces: Iterable<string>, opts: Omit<NftRunOptions, 'input'> = {}): Promise<NftRunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'unbound-sidecar-nft-'));
  const file = join(dir, 'tx.json');
  try {
    await writePieces(file, pieces);
    return await runNft(['-j', '-f', file], opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writePieces(file: string, pieces: Iterable<string>): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  let batch = '';
  for (const piece of pieces) {
    batch += piece;
    if (batch.length < 256 * 1024) continue;
    if (!out.write(batch)) await new Promise<void>((r) => out.once('drain', r));
    batch = '';
  }
  out.end(batch);
  await done;
}
