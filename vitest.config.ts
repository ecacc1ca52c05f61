import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Test files run in separate forks; each file that touches PostgreSQL creates and drops its
// own database, so files can run in parallel without seeing each other's rows.
export default defineConfig({
  // The web app imports shared server modules (limits, error codes) through this alias.
  resolve: { alias: { '@server': fileURLToPath(new URL('./src', import.meta.url)) } },
  test: {
    // web/test holds the browser suites (*.browser.test.ts: real server, system Chromium).
    include: ['src/**/*.test.ts', 'sim/**/*.test.ts', 'bench/**/*.test.ts', 'web/**/*.test.ts',
      'cluster/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
