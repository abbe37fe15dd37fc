/**
 * One error type for the whole daemon, with a stable `code` callers branch on and users grep for
 * (the undici `errors.js` / CoreDNS `plugin.Error` habit). The message is prefixed with the
 * capability that raised it: `config: dns.listen[0]: expected "host:port"`.
 */
export type SidecarErrorCode =
  /** The config file (or a flag) fails the schema or a cross-field rule; the message names the JSON path. */
  | 'CONFIG_INVALID'
  /** The config file cannot be read (missing, permissions). */
  | 'CONFIG_UNREADABLE'
  /** A listener (DNS, HTTP, admin socket, dnstap socket) cannot bind; the message says why and what to do. */
  | 'LISTEN_FAILED'
  /** A command line that cannot work (bad HOST:PORT, unknown command or flag). */
  | 'USAGE'
  /** The running daemon's admin socket does not answer (not running, or another admin.socket). */
  | 'ADMIN_UNREACHABLE'
  /** The nftables table or set a list targets does not exist (and createSets is off). */
  | 'NFT_SET_MISSING'
  /** nftables refused a transaction, or `nft` could not be run. */
  | 'NFT_APPLY_FAILED'
  /** A netlink request passed its deadline; what it touched is unknown until read back. */
  | 'NFT_TIMEOUT'
  /** `domains`/`sync --list` name a list the config does not have. */
  | 'LIST_UNKNOWN'
  /** stateDir cannot be written: nothing was changed. */
  | 'STATE_UNWRITABLE';

export class SidecarError extends Error {
  readonly code: SidecarErrorCode;

  constructor(code: SidecarErrorCode, capability: string, message: string, options?: { cause?: unknown }) {
    super(`${capability}: ${message}`, options);
    this.name = 'SidecarError';
    this.code = code;
  }
}

export function isSidecarError(err: unknown, code?: SidecarErrorCode): err is SidecarError {
  return err instanceof SidecarError && (code === undefined || err.code === code);
}

/** Render any thrown value as a one-line message (for logs and CLI output). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
