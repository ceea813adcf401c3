#!/usr/bin/env node
// The package's command; the TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('netboot: dist/ is missing: run `npm ci && npm run build` in the netboot checkout first');
  process.exit(1);
}
await import(entry.href);
