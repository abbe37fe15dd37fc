/**
 * Tables of interval sets v4/v6 for set-sync's integration tests, in a test namespace: created
 * fresh per test and deleted after it (an `nft monitor` started later lists every table there
 * when it starts, which takes seconds with 100k-element sets), and compared with a model as the
 * kernel holds them (read back, well-formed, coverage equal).
 */
import { rangeSetsEqual, type RangeSet } from '../../src/lib/ip-prefix/index.js';
import { createNftBackend } from '../../src/lib/nft/nft-backend.js';
import type { SetTarget } from '../../src/set-sync/index.js';
import { coverageOf, exactFromElements } from '../../src/set-sync/readback.js';
import type { NftNetns } from '../lab/nft-netns.js';

export interface TestTables {
  fresh(): Promise<SetTarget>;
  /** Deletes the tables made since the last call. */
  cleanup(): Promise<void>;
}

export function testTables(ns: () => NftNetns, prefix: string): TestTables {
  let n = 0;
  const made: string[] = [];
  return {
    async fresh() {
      const table = `${prefix}${++n}`;
      made.push(table);
      await ns().nft(['-f', '-'], `table inet ${table} {\n set v4 { type ipv4_addr; flags interval; }\n set v6 { type ipv6_addr; flags interval; }\n}\n`);
      return { list: 'vpn', family: 'inet', table, set4: 'v4', set6: 'v6', netns: ns().name, createSets: false };
    },
    async cleanup() {
      for (const table of made.splice(0))
        await ns()
          .nft(['delete', 'table', 'inet', table])
          .catch(() => undefined);
    },
  };
}

/** True when both sets are well-formed (no overlaps) and cover exactly the model. */
export async function setsEqualModel(t: SetTarget, m: { ipv4: RangeSet; ipv6: RangeSet }): Promise<boolean> {
  for (const [set, family] of [
    ['v4', 'ipv4'],
    ['v6', 'ipv6'],
  ] as const) {
    const l = await createNftBackend().listSet({ family: t.family, table: t.table, set }, t.netns);
    const e = l.kind === 'ok' ? exactFromElements(family, l.set.elements) : undefined;
    if (!e || !rangeSetsEqual(coverageOf(e), m[family])) return false;
  }
  return true;
}
