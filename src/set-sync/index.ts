import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { NftBackend } from '../lib/nft/nft-backend.js';
import { createDefaultNftBackend } from '../lib/nft/netlink/netlink-backend.js';
import { createLearnedSets, type LearnedSets } from './learned-sets.js';
import { createSetSync, type SetSync } from './list-sync.js';

export { setSyncConfigSchema, setTargetConfigSchema, DEFAULT_MAX_TRANSACTION_PREFIXES, DEFAULT_MAX_QUIET_TRANSACTION_PREFIXES, type SetSyncConfig, type SetTargetConfig } from './config.js';
export type { ApplyReport } from './set-sync.js';
export { createSetSync, type SetSync, type SetSyncStatus, type SetTarget } from './list-sync.js';
export { createLearnedSets, MIN_FRESH_LEFT_MS, type LearnedSets, type LearnedTarget, type LearnedOutcome } from './learned-sets.js';
export type { NftBackend } from '../lib/nft/nft-backend.js';

/**
 * The daemon's one owner of nftables state: the list sets and the learned sets over ONE backend,
 * so each namespace has one netlink socket, one request queue and one subscription (the monitor
 * fan-out of that backend), whoever writes. `learned` exists when some list learns.
 */
export interface SetOwner {
  readonly lists: SetSync;
  readonly learned: LearnedSets | undefined;
}

export function createSetOwner(opts: {
  logger: Logger;
  registry: Registry;
  maxTransactionPrefixes: number;
  maxQuietTransactionPrefixes: number;
  /** Learned sets and their batching (0 = the rest of the event-loop turn: the DNS front waits on them). */
  learned?: { batchMs?: number };
  backend?: NftBackend;
}): SetOwner {
  const backend = opts.backend ?? createDefaultNftBackend();
  const lists = createSetSync({
    logger: opts.logger,
    registry: opts.registry,
    backend,
    maxTransactionPrefixes: opts.maxTransactionPrefixes,
    maxQuietTransactionPrefixes: opts.maxQuietTransactionPrefixes,
  });
  const learned = opts.learned
    ? createLearnedSets({
        logger: opts.logger,
        registry: opts.registry,
        backend,
        maxTransactionPrefixes: opts.maxTransactionPrefixes,
        ...(opts.learned.batchMs !== undefined ? { batchMs: opts.learned.batchMs } : {}),
      })
    : undefined;
  return { lists, learned };
}
