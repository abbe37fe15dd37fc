export { loadConfig, parseConfig, readConfigJson } from './load.js';
export { parseHostPort } from './common.js';
export type { Config } from './schema.js';
