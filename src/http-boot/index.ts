export { buildBootApp } from './app.js';
export { renderIpxeScript, renderRetryScript } from './ipxe-script.js';
export type { HttpBootDeps, ServedFile } from './deps.js';
