// The lint rule that keeps adapters from writing the store (STYLE.md §16, eslint.config.js), run
// on probe snippets placed as if in an adapter folder and in src/machines: what it catches, and
// what it lets by (type imports, reads, the domain's bounded event sink).
import { ESLint } from 'eslint';
import { describe, expect, test } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.line}: ${m.ruleId}`);
}

const probe = `import { openStore } from '../store/index.js';
import type { Store } from '../store/index.js';
export function f(store: Store, deps: { store: Store; events: { record(e: unknown): void } }): unknown {
  store.machines.update('x', {});
  deps.store.scripts.addResult(1, {} as never);
  store.transaction(() => 1);
  store.machines.list();
  deps.store.scripts.run(1);
  deps.events.record({});
  return openStore;
}
`;

describe('adapters go through src/machines', () => {
  test.each(['src/api', 'src/enlist', 'src/cloud-init', 'src/http-boot'])('%s: value imports from src/store and store writes are errors; types and reads pass', async (folder) => {
    expect(await problems(`${folder}/lint-probe.ts`, probe)).toEqual([
      '1: @typescript-eslint/no-restricted-imports',
      '4: no-restricted-syntax',
      '5: no-restricted-syntax',
      '6: no-restricted-syntax',
    ]);
  });

  test('src/machines may write the store, but not through store.db', async () => {
    const code = `import type { Store } from '../store/index.js';
export function f(store: Store, deps: { store: Store }): unknown {
  store.machines.update('x', {});
  return [store.db, deps.store.db];
}
`;
    expect(await problems('src/machines/lint-probe.ts', code)).toEqual(['4: no-restricted-syntax', '4: no-restricted-syntax']);
  });
});
