/**
 * Whether the learner can write its files in stateDir. A read-only or full directory does not stop
 * DNS or the sets, but what was learned or added is lost at the next restart: that must be visible
 * (learner status, `/readyz`) instead of one warning in the journal. Each file's last write counts;
 * a later successful write of that file clears its failure.
 */
export interface StateHealth {
  readonly dir: string;
  readonly writable: boolean;
  /** Files whose last write failed, with the reason and when (ms since the epoch). */
  readonly failures: readonly { readonly file: string; readonly error: string; readonly at: number }[];
}

export class StateWrites {
  private readonly failed = new Map<string, { error: string; at: number }>();

  constructor(readonly dir: string) {}

  ok(file: string): void {
    this.failed.delete(file);
  }

  failure(file: string, err: unknown): string {
    const error = describeWriteError(err, this.dir);
    this.failed.set(file, { error, at: Date.now() });
    return error;
  }

  status(): StateHealth {
    return { dir: this.dir, writable: this.failed.size === 0, failures: [...this.failed].map(([file, f]) => ({ file, ...f })) };
  }
}

/** "/var/lib/unbound-sidecar is read-only (EROFS)" — what an operator acts on, not a stack. */
export function describeWriteError(err: unknown, dir: string): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  switch (code) {
    case 'EROFS':
      return `${dir} is on a read-only file system (EROFS)`;
    case 'EACCES':
    case 'EPERM':
      return `${dir} is not writable by this user (${code})`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `${dir} is full (${code})`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${dir} is not a directory (${code})`;
    default:
      return `cannot write in ${dir}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
