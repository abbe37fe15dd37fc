export { createFetcher, DEFAULT_MAX_BYTES, type Fetcher, type FetcherOptions } from './fetcher.js';
export type { FetchFailureReason, FetchFn, FetchOutcome, FetchRequest } from './outcome.js';
