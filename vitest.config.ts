import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // QEMU boots take 30-60 s each under TCG (FACTS.md); end-to-end files set their own timeouts.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end files must not boot VMs in parallel with each other.
    fileParallelism: true,
    poolOptions: { forks: { singleFork: false } },
    pool: 'forks',
  },
});
