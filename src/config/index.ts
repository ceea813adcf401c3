export { loadConfig, validateConfig, envNames, type ConfigSources } from './load.js';
export type { BootConfig, Config, DhcpConfig, HttpConfig, TftpConfig } from './schema.js';
export { publicUrl } from './derived.js';
