/**
 * Tells our own nft monitor echoes from someone else's changes. nft 1.0.6 reports a `flush set`
 * only as one `delete element` event per element, exactly like our own transactions' deletes, so
 * each transaction we send first announces what it will echo: N adds, M deletes, or "a flush of
 * unknown size" (a full load of a set whose contents we did not know). Events are delivered in
 * commit order, so a flush's deletes come before the same transaction's adds.
 * Expectations expire (`graceMs` after the transaction ends) so a lost event cannot blind us.
 */
export class EchoFilter {
  private adds = 0;
  private deletes = 0;
  private flushOpen = false;
  private until = 0;
  private inFlight = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Before sending a transaction. Returns `done(ok, elements)` to call when it has finished. */
  expect(e: { adds: number; deletes: number; flush: boolean }): (ok: boolean) => void {
    this.inFlight++;
    this.adds += e.adds;
    this.deletes += e.deletes;
    if (e.flush) this.flushOpen = true;
    return (ok) => {
      this.inFlight--;
      if (!ok) {
        // A refused transaction commits nothing and echoes nothing.
        this.adds = Math.max(0, this.adds - e.adds);
        this.deletes = Math.max(0, this.deletes - e.deletes);
        if (e.flush && this.adds === 0) this.flushOpen = false;
      }
      // The monitor may lag the commit by the time it takes to print and parse every element.
      this.until = this.now() + 2000 + (e.adds + e.deletes) / 200;
      if (this.adds === 0 && this.deletes === 0 && !e.flush) this.flushOpen = false;
    };
  }

  private live(): boolean {
    if (this.inFlight > 0 || this.now() <= this.until) return true;
    this.adds = 0;
    this.deletes = 0;
    this.flushOpen = false;
    return false;
  }

  /** True when the event is (probably) ours; consumes the expectation. */
  ours(op: 'add' | 'delete', count: number): boolean {
    if (!this.live()) return false;
    if (op === 'delete') {
      if (this.flushOpen) return true;
      if (this.deletes <= 0) return false;
      this.deletes -= count;
      return true;
    }
    if (this.adds <= 0) return false;
    this.adds -= count;
    if (this.adds <= 0) this.flushOpen = false;
    return true;
  }

  /** Table/set add events of our own `createSets` transaction arrive while its flush is open. */
  expectingCreate(): boolean {
    return this.live() && this.flushOpen;
  }
}
