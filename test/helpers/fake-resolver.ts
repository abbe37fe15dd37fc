import type { BackendQuery, BackendResult, LocalResolver } from '../../src/local-names/resolver.js';
import type { ResourceRecord } from '../../src/lib/dns-wire/types.js';

/**
 * A LocalResolver for unit tests: answers from a table, optionally after a delay, records every
 * query it was asked. Integration tests use the real Avahi backend in the namespace lab instead.
 */
export class FakeResolver implements LocalResolver {
  readonly kind = 'avahi' as const;
  readonly queries: BackendQuery[] = [];
  up = true;
  delayMs = 0;
  /** `type/name` → records; absent = none. */
  readonly table = new Map<string, ResourceRecord[]>();
  private readonly listeners = new Set<(up: boolean) => void>();

  add(rr: ResourceRecord): this {
    const key = `${rr.type}/${rr.name.toLowerCase()}`;
    this.table.set(key, [...(this.table.get(key) ?? []), rr]);
    return this;
  }

  isUp(): boolean {
    return this.up;
  }

  setUp(up: boolean): void {
    this.up = up;
    for (const l of this.listeners) l(up);
  }

  async lookup(query: BackendQuery): Promise<BackendResult> {
    this.queries.push(query);
    if (!this.up) return { kind: 'unavailable', reason: 'fake down' };
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const records = this.table.get(`${query.type}/${query.name}`);
    return records ? { kind: 'records', records } : { kind: 'none' };
  }

  onStateChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {}
}
