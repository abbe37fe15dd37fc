import { learnConfigSchema } from '../../src/learner/config.js';
import type { LearnedOutcome, LearnedSets } from '../../src/set-sync/index.js';

/**
 * A LearnedSets that writes nothing: every submit/remove settles with `outcome`, nothing is fresh
 * or known. Tests override the members they observe.
 */
export function stubLearnedSets(outcome: LearnedOutcome, overrides: Partial<LearnedSets> = {}): LearnedSets {
  return {
    submit: async () => outcome,
    remove: async () => outcome,
    flush: async () => undefined,
    expiryOf: () => undefined,
    fresh: () => false,
    timeLeftMs: () => 0,
    unavailable: () => undefined,
    stop: async () => undefined,
    ...overrides,
  };
}

/** A learning list `vpn` into inet t l4/l6, as ListMatchers takes it. */
export const learningList = {
  name: 'vpn',
  exclude: [],
  minPrefix: { ipv4: 8, ipv6: 16 },
  nft: { family: 'inet' as const, table: 't', createSets: false },
  learn: learnConfigSchema.parse({ set4: 'l4', set6: 'l6' }),
};
