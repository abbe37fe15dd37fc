import { adminRequest, DEFAULT_ADMIN_SOCKET, errorOf } from '../learner/admin-client.js';

/**
 * `unbound-sidecar domains add|remove|list LIST [NAME]` — runtime additions through the daemon's
 * admin socket (root only, mode 0600). Exit 0 done, 1 refused by the daemon, 2 usage / not running.
 */
export async function domainsCommand(opts: { args: readonly string[]; socket?: string | undefined }): Promise<number> {
  const socket = opts.socket ?? DEFAULT_ADMIN_SOCKET;
  const [op, list, name] = opts.args;
  if (op === 'list' && list !== undefined) {
    const r = await adminRequest(socket, 'GET', `/v1/domains?list=${encodeURIComponent(list)}`);
    if (r.status !== 200) return fail(errorOf(r.body));
    const b = r.body as { added?: unknown; registry?: unknown };
    const added = Array.isArray(b.added) ? b.added.map(String) : [];
    process.stdout.write(`${added.map((n) => `${n}\n`).join('')}`);
    process.stderr.write(`${list}: ${added.length} runtime addition(s), ${String(b.registry ?? 0)} registry name(s)\n`);
    return 0;
  }
  if ((op === 'add' || op === 'remove') && list !== undefined && name !== undefined) {
    const r = await adminRequest(socket, 'POST', '/v1/domains', { op, list, name });
    if (r.status !== 200) return fail(errorOf(r.body));
    const b = r.body as { name?: unknown; changed?: unknown };
    process.stdout.write(`${op === 'add' ? 'added' : 'removed'} ${String(b.name)} ${op === 'add' ? 'to' : 'from'} ${list}${b.changed === false ? ' (already there)' : ''}\n`);
    return 0;
  }
  process.stderr.write('usage: unbound-sidecar domains add|remove LIST NAME | domains list LIST\n');
  return 2;
}

function fail(message: string): number {
  process.stderr.write(`domains: ${message}\n`);
  return 1;
}
