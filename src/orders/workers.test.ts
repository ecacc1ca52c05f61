/**
 * The booking maintenance's compaction of the dashboard's kept counts runs even when an
 * earlier duty fails on every run (payment reconciliation during a provider or database
 * outage of its own tables): it has a loop of its own. The failing duty is simulated by a
 * database whose statements on payments fail; before, compaction ran after it in the same
 * run and never ran at all.
 */
import { afterEach, expect, it } from 'vitest';

import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { startBookingWorkers } from './workers.js';

const [pglite] = await testBackends();
const open: { stop(): Promise<void> }[] = [];
let db: Db | undefined;

afterEach(async () => {
  for (const workers of open.splice(0)) await workers.stop();
  await db?.close();
  db = undefined;
});

it('compacts the kept counts while reconciliation fails on every run', async () => {
  db = await (pglite as NonNullable<typeof pglite>).open();
  const real = db;
  const sent: string[] = [];
  const failing: Db = {
    ...real,
    query: async (sql, params) => {
      sent.push(sql);
      if (/\bpayments\b/.test(sql)) throw new Error('payments unavailable');
      return await real.query(sql, params);
    },
  };
  const ctx = buildTestContext(failing);
  open.push(startBookingWorkers(ctx, { maintainEveryMs: 20, sweepEveryMs: 60_000 }));
  await expect.poll(() => sent.some((sql) => /\bpayments\b/.test(sql)),
    { timeout: 10_000 }).toBe(true);
  await expect.poll(() => sent.filter((sql) => sql.includes('order_counts_compact')).length,
    { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  expect(sent.some((sql) => sql.includes('ticket_counts_compact'))).toBe(true);
});
