import { defineConfig } from 'vitest/config';

// End-to-end tests: real Chromium driving the built renderer in browser mode. One file at a
// time (each starts its own app and browser); `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    globalSetup: ['test/e2e/globalSetup.ts'],
  },
});
