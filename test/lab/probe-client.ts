/**
 * Typed handle on a dns-probe process running inside a namespace. Runs the probe with the same
 * runtime as the caller: `dns-probe.js` next to a compiled lab, `dns-probe.ts` through tsx otherwise.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { NetnsHost } from './netns.js';
import type { DnsQuery, DnsResult, HttpResult, ProbeReply, ProbeRequest } from './probe-protocol.js';
import { stopChild } from './reaper.js';
import { waitFor } from './wait.js';

export type { DnsQuery, DnsResult, HttpResult } from './probe-protocol.js';

/** `node <lab script>`: the compiled `NAME.js` next to a compiled lab, `NAME.ts` through tsx otherwise. */
export function labScriptCommand(name: string): string[] {
  const js = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (import.meta.url.endsWith('.js') && existsSync(js)) return [process.execPath, js];
  const ts = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  return [process.execPath, '--import', import.meta.resolve('tsx'), ts];
}

export class Probe {
  private nextId = 1;
  private readonly pending = new Map<number, (r: ProbeReply) => void>();
  private ready = false;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly host: NetnsHost,
  ) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof msg !== 'object' || msg === null) return;
      if ('ready' in msg) {
        this.ready = true;
        return;
      }
      const reply = msg as ProbeReply;
      const cb = this.pending.get(reply.id);
      if (cb) {
        this.pending.delete(reply.id);
        cb(reply);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => process.stderr.write(`[probe ${host.name}] ${d}`));
    child.stdin!.on('error', () => undefined); // EPIPE after the probe died: surfaced via 'exit'
    child.on('exit', () => {
      this.exited = true;
      for (const [id, cb] of this.pending) cb({ id, ok: false, ms: 0, error: 'probe exited' });
      this.pending.clear();
    });
  }

  static async start(host: NetnsHost): Promise<Probe> {
    const probe = new Probe(host.spawn(labScriptCommand('dns-probe')), host);
    await waitFor(`dns probe in ${host.name}`, () => {
      if (probe.exited) throw new Error('probe exited during start');
      return probe.ready;
    });
    return probe;
  }

  private send<T>(req: ProbeRequest extends infer R ? (R extends ProbeRequest ? Omit<R, 'id'> : never) : never): Promise<T> {
    if (this.exited) return Promise.reject(new Error('lab: probe has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.pending.set(id, (r) => resolve(r as unknown as T));
      this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** One DNS exchange from inside the namespace; `ms` is measured there. Never rejects for DNS errors. */
  dns(q: DnsQuery): Promise<DnsResult> {
    return this.send<DnsResult>({ op: 'dns', ...q });
  }

  http(url: string, timeoutMs = 2000): Promise<HttpResult> {
    return this.send<HttpResult>({ op: 'http', url, timeoutMs });
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    await stopChild(this.child, 'SIGTERM', 1000);
  }
}
