/**
 * The seed-scale rehearsal, measured by the simulator: 1,000,000 customers for a 50,000-ticket
 * event on real PostgreSQL and Redis on this machine, with the invariant audit. Not part of
 * the default `npm run bench` (it takes a quarter of an hour); run it with
 * `npm run bench -- simulation`. SIM_CUSTOMERS / SIM_SEATS / SIM_STANDING /
 * SIM_ADMIT_PER_MINUTE / SIM_MAX_ACTIVE / SIM_MAX_SECONDS override the sizes.
 */
import { defaultOptions } from '../sim/options.js';
import { simulate, writeReport } from '../sim/run.js';
import { benchPostgres, type BenchRow, type BenchSection } from './lib.js';

const number = (name: string, fallback: number): number => {
  const raw = process.env[name];
  return raw === undefined ? fallback : Number(raw);
};

/** Runs the simulation against a fresh PostgreSQL database and the local Redis. */
export async function run(): Promise<BenchSection> {
  const db = await benchPostgres(1);
  const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/${rows[0]?.name ?? ''}`;
  const options = {
    ...defaultOptions,
    customers: number('SIM_CUSTOMERS', 1_000_000),
    seats: number('SIM_SEATS', 40_000),
    standing: number('SIM_STANDING', 10_000),
    // 250 admissions a second: a shopper's visit lasts ~8 s (think times, hold, pay), so
    // 3,000 slots keep the admission rate, not the slots, the limit.
    admitPerMinute: number('SIM_ADMIT_PER_MINUTE', 15_000),
    maxActiveShoppers: number('SIM_MAX_ACTIVE', 3_000),
    // Fans who give up keep their slot until the pass lapses: short passes keep the line
    // moving at the admission rate rather than at the rate slots are abandoned.
    passSeconds: 120,
    holdSeconds: 120,
    preOnSaleSeconds: 10,
    burstSeconds: 20,
    thinkMs: 2_000,
    maxSeconds: number('SIM_MAX_SECONDS', 1_800),
    observers: 200,
    connections: 256,
    progress: process.stderr.isTTY === true,
    reportDir: 'sim-report-bench',
  };
  try {
    const report = await simulate(options, {
      ...process.env, DATABASE_URL: url.toString(),
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      SIM_LOG_LEVEL: 'error', PG_POOL_MAX: '40',
    });
    process.stderr.write(writeReport(report, options.reportDir));
    const rowsOut: BenchRow[] = report.steps.map((step) => ({
      name: `simulation step: ${step.step}`,
      opsPerSec: step.count / (report.durationMs / 1000),
      p50Ms: step.p50Ms, p99Ms: step.p99Ms, ops: step.count, errors: step.errors,
      notes: JSON.stringify(step.statuses),
    }));
    const sellOut = report.soldOutAtMs === null ? 'not sold out'
      : `sold out ${((report.soldOutAtMs - report.onSaleAtMs) / 1000).toFixed(1)} s after on-sale`;
    const audit = report.audit === null ? 'audit not run'
      : report.audit.ok ? 'audit clean' : 'AUDIT FAILED';
    return {
      title: `Simulation: ${options.customers.toLocaleString('en-US')} customers, ` +
        `${report.capacity.toLocaleString('en-US')} tickets (PostgreSQL + Redis)`,
      description: `stampede simulate, seed ${options.seed}, admission ${options.admitPerMinute}` +
        `/min, at most ${options.maxActiveShoppers} shoppers. ${report.sold} sold, ${sellOut}, ` +
        `run ${(report.durationMs / 1000).toFixed(0)} s (${report.stoppedBy}), ${audit}. ` +
        `Fairness tau ${report.fairness.joinVsNumberTau?.toFixed(4) ?? '–'} (after on-sale), ` +
        `${report.fairness.preQueueTau?.toFixed(3) ?? '–'} (pre-queue draw). ` +
        'Rates are per second of the whole run.',
      rows: rowsOut,
    };
  } finally {
    await db.close();
  }
}
