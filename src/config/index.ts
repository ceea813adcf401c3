export { loadConfig, validateConfig, envNames, type ConfigSources } from './load.js';
export type { Config, DhcpConfig, HttpConfig } from './schema.js';
export { publicUrl } from './derived.js';
