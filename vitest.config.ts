import { defineConfig } from 'vitest/config';

// Two projects, so that no command can boot VMs in parallel by mistake (two cores; code review
// 2026-12 item 14): `unit` runs its files in parallel, `e2e` (test/qemu) one file at a time in one
// fork, and only after `unit` has finished (groupOrder). `npx vitest run` runs both;
// `--project unit` or `--project e2e` one of them.
export default defineConfig({
  test: {
    // QEMU boots take 30-60 s each under TCG (FACTS.md); end-to-end files set their own timeouts.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/qemu/**'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'e2e', include: ['test/qemu/**/*.test.ts'], sequence: { groupOrder: 1 },
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
