import { defineConfig } from 'vitest/config';

// libchdb opens one data directory per process: every test file runs in its own fork.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/detach-stdin.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
