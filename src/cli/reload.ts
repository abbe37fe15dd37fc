import { isDeepStrictEqual } from 'node:util';
import { parseConfig, readConfigJson, type Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { isRecord } from '../lib/narrow/is-record.js';

export type ReloadResult =
  | {
      kind: 'loaded';
      config: Config;
      /**
       * Dotted paths (two levels: `log.level`, `dns.listen`, `lists`) whose value differs from
       * `current`. The daemon decides what it can apply live and logs the rest as "needs a restart".
       */
      changed: string[];
    }
  | { kind: 'invalid'; error: string };

/**
 * SIGHUP: re-read and validate the config file. Never throws: an unreadable or invalid file is a
 * value (`kind: 'invalid'`, the message names the JSON path like `check-config` does), so the caller keeps
 * running on `current` and logs why (an invalid file keeps the old config running).
 *
 * `rebase` re-applies what the command line overrode (`run --listen/--metrics`) to the file's JSON
 * before validation (a parsed Config cannot be validated again: durations are already ms), so a
 * reload does not silently drop them.
 */
export async function reloadConfig(file: string | undefined, current: Config, rebase: (raw: unknown) => unknown = (raw) => raw): Promise<ReloadResult> {
  try {
    const config = parseConfig(rebase(await readConfigJson(file)), file ?? 'command line');
    return { kind: 'loaded', config, changed: changedPaths(current, config) };
  } catch (err) {
    return { kind: 'invalid', error: errorMessage(err) };
  }
}

export function changedPaths(a: Config, b: Config): string[] {
  const out: string[] = [];
  for (const key of Object.keys(b) as (keyof Config)[]) {
    const x: unknown = a[key];
    const y: unknown = b[key];
    if (isDeepStrictEqual(x, y)) continue;
    // Blocks (objects) are compared one level down; arrays (`lists`) and scalars count as a whole.
    if (isRecord(x) && isRecord(y)) {
      for (const sub of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (!isDeepStrictEqual(x[sub], y[sub])) out.push(`${key}.${sub}`);
      }
    } else {
      out.push(key);
    }
  }
  return out;
}
