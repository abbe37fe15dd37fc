/**
 * One error type for the whole daemon, with a stable `code` callers branch on and users grep for
 * (the undici `errors.js` / CoreDNS `plugin.Error` habit). The message is prefixed with the
 * capability that raised it: `config: dns.listen[0]: expected "host:port"`.
 */
export type SidecarErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'LISTEN_FAILED'
  | 'DBUS_UNAVAILABLE'
  | 'AVAHI_UNAVAILABLE'
  | 'AVAHI_FAILED'
  | 'LOOKUP_TIMEOUT'
  | 'USAGE'
  | 'NFT_SET_MISSING'
  | 'NFT_APPLY_FAILED'
  /** A netlink request passed its deadline; what it touched is unknown until read back. */
  | 'NFT_TIMEOUT'
  | 'LIST_UNKNOWN'
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
