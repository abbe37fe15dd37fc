import { adminRequest, DEFAULT_ADMIN_SOCKET, errorOf } from '../learner/admin-client.js';

/**
 * `unbound-sidecar lookup NAME|IP [--json]`: which list matches a name (and through which entry),
 * which set holds an address and until when. Exit 0 when something matched, 1 when nothing did.
 */
export async function lookupCommand(opts: { args: readonly string[]; socket?: string | undefined; json?: boolean }): Promise<number> {
  const [q] = opts.args;
  if (q === undefined) {
    process.stderr.write('usage: unbound-sidecar lookup NAME|IP\n');
    return 2;
  }
  const r = await adminRequest(opts.socket ?? DEFAULT_ADMIN_SOCKET, 'GET', `/v1/lookup?q=${encodeURIComponent(q)}`);
  if (r.status !== 200) {
    process.stderr.write(`lookup: ${errorOf(r.body)}\n`);
    return r.status === 400 ? 2 : 1;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r.body, null, 2)}\n`);
    return 0;
  }
  const b = r.body as Record<string, unknown>;
  const rows = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : []);
  const out: string[] = [];
  if (b.kind === 'name') {
    for (const m of rows(b.matches))
      out.push(`${String(b.name)}: list ${String(m.list)} via ${m.source === 'added' ? 'runtime addition' : 'registry entry'} ${String(m.entry)}${m.learns ? '' : ' (list does not learn addresses)'}`);
    for (const l of rows(b.learned)) out.push(`  learned ${String(l.address)} in ${String(l.list)} until ${String(l.expires)}`);
    if (out.length === 0) out.push(`${String(b.name)}: no list matches`);
  } else {
    for (const s of Array.isArray(b.static) ? b.static.map(String) : []) out.push(`${String(b.address)}: in the static set of list ${s}`);
    for (const l of rows(b.learned)) out.push(`${String(b.address)}: learned in ${String(l.set)} (list ${String(l.list)}) for ${String(l.name)}, expires ${String(l.expires)}`);
    if (out.length === 0) out.push(`${String(b.address)}: in no set`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  const matched = (b.kind === 'name' && rows(b.matches).length > 0) || (b.kind === 'address' && out[0]?.endsWith('in no set') !== true);
  return matched ? 0 : 1;
}
