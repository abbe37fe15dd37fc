export { loadConfig, parseConfig, readConfigJson } from './load.js';
export type { Config } from './schema.js';
