import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2 cores: one fork per core; heavy files (PGlite, corpus) share one instance per file.
    pool: 'forks',
    maxWorkers: 2,
  },
});
