import { request } from 'node:http';
import { SidecarError } from '../errors.js';

/** Default admin socket (config `admin.socket`). */
export const DEFAULT_ADMIN_SOCKET = '/run/unbound-sidecar/admin.sock';

/**
 * One request to the daemon's admin API (admin-api.ts). A daemon that is not running (no socket,
 * or a stale one) is a SidecarError('ADMIN_UNREACHABLE') saying so, not a stack trace.
 */
export function adminRequest(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const down = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      reject(
        new SidecarError(
          'ADMIN_UNREACHABLE',
          'admin',
          down
            ? `the daemon is not running (no admin socket at ${socketPath}); start it with \`unbound-sidecar run\`, or pass the --config whose admin.socket it uses`
            : `admin socket ${socketPath}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    req.end(payload);
  });
}

export function errorOf(body: unknown): string {
  return typeof body === 'object' && body !== null && 'error' in body ? String(body.error) : 'unexpected reply';
}
