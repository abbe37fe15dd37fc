import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { SidecarError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { checkSemantics } from './semantics.js';

/** `dns.listen[0]`-style path of a zod issue (the path users see in the error). */
function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${jsonPath(i.path)}: ${i.message}`).join('; ');
}

/** Validate an already-parsed JSON value. Throws SidecarError CONFIG_INVALID naming each bad path. */
export function parseConfig(value: unknown, source = 'config'): Config {
  // `null`, `[]`, `"x"` or `42` is a file that went wrong (an empty template, a botched generator),
  // not "all defaults": only a missing file (undefined) means that.
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new SidecarError('CONFIG_INVALID', 'config', `${source}: (root): expected a JSON object such as {} (every key has a default), got ${got}`);
  }
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) {
    throw new SidecarError('CONFIG_INVALID', 'config', `${source}: ${formatIssues(result.error.issues)}`);
  }
  const problems = checkSemantics(result.data);
  if (problems.length > 0) {
    throw new SidecarError('CONFIG_INVALID', 'config', `${source}: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Read and validate a config file; `undefined` means "no file": all defaults. */
export async function loadConfig(file: string | undefined): Promise<Config> {
  return parseConfig(await readConfigJson(file), file ?? 'defaults');
}

/**
 * The file's JSON before validation (`{}` without a file). Command-line overrides are merged into
 * this, not into a parsed Config: parsing transforms values (durations become ms), so a parsed
 * config cannot be validated a second time.
 */
export async function readConfigJson(file: string | undefined): Promise<unknown> {
  if (file === undefined) return {};
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SidecarError('CONFIG_UNREADABLE', 'config', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SidecarError('CONFIG_INVALID', 'config', `${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
