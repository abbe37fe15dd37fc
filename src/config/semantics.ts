import type { Config } from './schema.js';
import { parseRecordLine } from '../lib/dns-wire/presentation.js';
import { parseTypeName } from '../lib/dns-wire/types.js';

/** Checks zod cannot express: cross-field rules. Returns one message per problem, each naming its path. */
export function checkSemantics(config: Config): string[] {
  const problems: string[] = [];
  const policy = config.mdns.policy;
  for (const key of ['acceptTypes', 'rejectTypes'] as const) {
    policy[key].forEach((t, i) => {
      if (parseTypeName(t) === undefined) problems.push(`mdns.policy.${key}[${i}]: unknown record type "${t}" (use A, AAAA, SRV, … or TYPE<n>)`);
    });
  }
  policy.staticRecords.forEach((line, i) => {
    try {
      parseRecordLine(line, config.mdns.ttl);
    } catch (err) {
      problems.push(`mdns.policy.staticRecords[${i}]: ${(err as Error).message}`);
    }
  });
  const names = new Map<string, number>();
  const sets = new Map<string, string>();
  config.lists.forEach((list, i) => {
    const first = names.get(list.name);
    if (first !== undefined) problems.push(`lists[${i}].name: "${list.name}" is already the name of lists[${first}]`);
    else names.set(list.name, i);
    // Two lists writing one set would undo each other's work on every sync.
    for (const set of [list.nft.set4, list.nft.set6]) {
      if (set === undefined) continue;
      const key = `${list.nft.netns ?? ''}/${list.nft.family} ${list.nft.table} ${set}`;
      const owner = sets.get(key);
      if (owner !== undefined) problems.push(`lists[${i}].nft: set ${list.nft.family} ${list.nft.table} ${set} is already kept by list "${owner}"`);
      else sets.set(key, list.name);
    }
  });
  return problems;
}
