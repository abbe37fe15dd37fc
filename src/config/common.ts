import { z } from 'zod';
import { parseHostPort } from '../lib/net/host-port.js';
import { NFT_NAME } from '../lib/nft/nft-name.js';

/** Field types shared by the capability configs. */

/** `host:port` or `[v6]:port`; the host must be a literal IP (we bind it, we do not resolve it). Port 0 = any free port. */
export const hostPort = z.string().refine((s) => parseHostPort(s) !== undefined, {
  message: 'expected "host:port" with a literal IP, e.g. "127.0.0.1:5335" or "[::1]:5335"',
});

/** An absolute domain name; stored lowercased with exactly one trailing dot. */
export const domainName = z
  .string()
  .regex(/^([a-zA-Z0-9_-]{1,63}\.)*[a-zA-Z0-9_-]{1,63}\.?$/, 'expected a domain name such as "local." or "77.10.in-addr.arpa."')
  .transform((s) => (s.endsWith('.') ? s : `${s}.`).toLowerCase());

export const regexString = z.string().refine(
  (s) => {
    try {
      new RegExp(s, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a valid regular expression' },
);

/** An nft table or set name (lib/nft/nft-name.ts); `example` goes into the error message. */
export function nftNameSchema(example: string): z.ZodString {
  return z.string().regex(NFT_NAME, `expected an nft name such as ${example}`);
}

export const nonNegativeInt = z.number().int().nonnegative();
export const positiveInt = z.number().int().positive();
