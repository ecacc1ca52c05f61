/**
 * What the dashboard series' settle margin costs: rows of `holds` one computation reads with
 * a memo, at a steady rate of holds, for the old margin (limits.statsSeriesSettleMs alone)
 * and the route's (the statement timeout plus it). Holds are stamped `rate` a second over
 * the last two minutes, then `rate` more each second while A and B computations alternate
 * (A B A B ...), each with a memo of its own primed by one full read, for `seconds`. Rows
 * read are pg_stat_xact_user_tables' fetches and sequential reads of `holds` in the
 * computation's transaction: load-independent.
 *
 * `TEST_DATABASE_URL=… npx tsx bench/seriesSettle.ts [rate=50] [seconds=40]`
 */
import { loadavg } from 'node:os';

import { limits } from '../src/config/limits.js';
import { readSeriesCounts, SeriesMemo, seriesSettleMs } from '../src/stats/series.js';
import type { Queryable } from '../src/storage/index.js';
import { testBackends } from '../src/testing/backends.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomer, buildEvent } from '../src/testing/factories.js';

const rate = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 40);
const postgres = (await testBackends()).find((b) => b.name === 'postgres');
if (postgres === undefined || !postgres.available) throw new Error('no PostgreSQL');
const db = await postgres.open();
const ctx = buildTestContext(db);
const event = await buildEvent(ctx);
const fan = await buildCustomer(ctx);

/** `n` holds stamped `agoSeconds` ago and spread over the second before. */
async function stamp(n: number, agoSeconds: number): Promise<void> {
  await db.query(
    `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                        total_cents, expires_at, claim_expires_at, created_at)
     SELECT gen_random_uuid(), $1, $2, 'held', 1, true, 'EUR', 0, now() + interval '1 hour',
            now() + interval '1 hour', now() - make_interval(secs => $4 + g::float8 / $3)
       FROM generate_series(0, $3 - 1) AS g`,
    [event.eventId, fan.customerId, n, agoSeconds]);
}
for (let ago = 130; ago >= 0; ago -= 1) await stamp(rate, ago);

async function holdsRead(tx: Queryable): Promise<number> {
  const { rows: [row] } = await tx.query<{ n: number }>(
    `SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int AS n
       FROM pg_stat_xact_user_tables WHERE relname = 'holds'`);
  return row?.n ?? 0;
}

/** Rows of holds one computation read, in a transaction of its own. */
async function computation(memo: SeriesMemo): Promise<number> {
  return await db.tx(async (tx) => {
    const before = await holdsRead(tx);
    await readSeriesCounts(tx, event.eventId, ctx.clock, memo);
    return await holdsRead(tx) - before;
  });
}

const variants = [
  { name: `margin ${limits.statsSeriesSettleMs / 1000} s (before)`,
    memo: new SeriesMemo(limits.statsSeriesSettleMs) },
  { name: `margin ${seriesSettleMs(ctx.config.pg.statementTimeoutMs) / 1000} s (route)`,
    memo: new SeriesMemo(seriesSettleMs(ctx.config.pg.statementTimeoutMs)) },
];
for (const v of variants) await computation(v.memo);
const full = await computation(new SeriesMemo());
const totals = variants.map(() => ({ rows: 0, calls: 0 }));
const started = Date.now();
while (Date.now() - started < seconds * 1_000) {
  await stamp(rate, 0);
  for (const [i, v] of variants.entries()) {
    const sum = totals[i] as { rows: number; calls: number };
    sum.rows += await computation(v.memo);
    sum.calls += 1;
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
console.log(`${rate} holds/s, ${seconds} s, A B alternating each second; a full read: ` +
  `${full} rows; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [i, v] of variants.entries()) {
  const sum = totals[i] as { rows: number; calls: number };
  console.log(`${v.name}: ${(sum.rows / sum.calls).toFixed(0)} rows of holds a computation ` +
    `(${sum.calls} computations)`);
}
await db.close();
process.exit(0);
