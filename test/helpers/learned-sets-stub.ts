import { learnConfigSchema } from '../../src/learner/config.js';
import type { KernelExpiry } from '../../src/learner/learned-store.js';
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
    expiryReader: () => () => undefined,
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

/**
 * Stands in for set-sync's expiry map (the one clock of a learned element) under a LearnedStore:
 * `set` is what a write to the kernel would record; `expiry` is what the store reads.
 */
export function kernelClock(now: () => number = Date.now): { expiry: KernelExpiry; set(list: string, address: string, expires: number): void } {
  const map = new Map<string, number>();
  return {
    expiry: (list) => (address) => {
      const e = map.get(`${list}|${address}`);
      return e !== undefined && e > now() ? e : undefined;
    },
    set: (list, address, expires) => void map.set(`${list}|${address}`, expires),
  };
}

/** A store's clock with nothing in the kernel (for tests that never read expiries). */
export const noKernel: KernelExpiry = () => () => undefined;
