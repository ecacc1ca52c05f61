import { defineConfig } from 'vitest/config';

// Test files run in separate forks; each file that touches PostgreSQL creates and drops its
// own database, so files can run in parallel without seeing each other's rows.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'sim/**/*.test.ts', 'bench/**/*.test.ts', 'web/src/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
