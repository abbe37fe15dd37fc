/**
 * blocklist: list sources -> fetch, parse, validate, guard, snapshot -> a canonical model per list
 * (merged IPv4/IPv6 ranges + normalised domains) that set-sync applies to nftables.
 */
export { createBlocklist, type Blocklist, type BlocklistOptions, type ListOutcome, type ListRefreshStatus, type ListSyncReport } from './blocklist.js';
export type { ListModel, SourceReport } from './list-refresh.js';
export { listConfigSchema, listSourceSchema, parseDuration, type ListConfig, type ListSourceConfig } from './config.js';
export type { FetchFn, FetchOutcome, FetchRequest } from '../lib/fetch/index.js';
