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
  return problems;
}
