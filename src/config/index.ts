export { loadConfig, parseConfig } from './load.js';
export { parseHostPort } from './common.js';
export type { Config } from './schema.js';
