/**
 * `npm run chaos`: the fault matrix. Starts the local cluster, and for each fault runs a
 * simulated sale through HAProxy, injects the fault once the sale is busy, heals it, then
 * proves from PostgreSQL that the invariants hold (the simulator's audit) and that every
 * hold, order, payment and cancellation a client was told about is there. Writes the
 * results table into docs/RELIABILITY.md (between its markers) and exits non-zero on any
 * violation, lost acknowledgement, or a sale that did not resume.
 *
 *   npm run chaos                      the full matrix (about 25 minutes on a loaded machine)
 *   npm run chaos -- --quick           the bounded CI form: three faults, small crowds
 *   npm run chaos -- --faults a,b      only the faults whose names contain a or b
 *   npm run chaos -- --fans N --no-write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { auditEvent, type AuditReport } from '../sim/audit.js';
import { defaultOptions, type SimOptions } from '../sim/options.js';
import { simulate } from '../sim/run.js';
import { createPostgresDb } from '../src/storage/postgres.js';
import { AckLog, type AckCheck } from './acks.js';
import { startCluster, type LocalCluster } from './cluster.js';
import { faults, type Fault } from './faults.js';
import { waitFor } from './procs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One row of the results table. */
interface Row {
  fault: string;
  fans: number;
  sold: number;
  capacity: number;
  audit: AuditReport | null;
  acks: AckCheck;
  /** From the end of the fault to the first acknowledged write after it. */
  resumedMs: number | null;
  /** The sale sold out, or its crowd finished, before the fault was over. */
  soldOutBefore: boolean;
  /**
   * Recovery time: the longest stretch without an acknowledged write from the fault until
   * 20 s after it healed (bounded by the sale's last write).
   */
  pauseMs: number;
  /** Requests with no reply or a 5xx, during the fault window and over the whole sale. */
  errorsInWindow: number;
  errorsTotal: number;
  requests: number;
  notes: string[];
  ok: boolean;
}

interface ChaosOptions {
  quick: boolean;
  fans: number;
  only: string[];
  write: boolean;
  /** Keep the cluster's folder (logs) after the run. */
  keep: boolean;
}

function parse(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      quick: { type: 'boolean' }, fans: { type: 'string' }, faults: { type: 'string' },
      'no-write': { type: 'boolean' }, keep: { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  const fans = Number(values.fans ?? (quick ? 300 : 800));
  if (!Number.isInteger(fans) || fans < 50 || fans > 100_000) {
    throw new Error('--fans must be an integer from 50 to 100000');
  }
  const only = values.faults?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
    ?? (quick ? ['leader', 'postgresql primary', 'redis failover'] : []);
  return {
    quick, fans, only, write: values['no-write'] !== true && !quick, keep: values.keep === true,
  };
}

function simOptions(cluster: LocalCluster, fans: number, fault: Fault, seed: number,
  quick: boolean): SimOptions {
  return {
    ...defaultOptions,
    url: cluster.url, adminToken: cluster.adminToken, auditDatabaseUrl: cluster.databaseUrl,
    customers: fans, seed,
    // Fewer tickets than the crowd wants, so the sale is still selling when the fault hits
    // and sells out after it.
    seats: Math.round(fans * 0.8), standing: Math.round(fans * 0.2),
    admitPerMinute: 3_000, maxActiveShoppers: 200, holdSeconds: 30, passSeconds: 120,
    preOnSaleSeconds: 2, burstSeconds: quick ? 8 : 20, thinkMs: 400,
    maxSeconds: quick ? 35 : 90, observers: 10, connections: 64,
    slowPay: fault.slowPay ?? 0, progress: false, reportDir: path.join(cluster.dir, 'sim'),
  };
}

/**
 * Waits until every payment the gateway captured or declined is settled and no refund is
 * in flight (a crash between charge and settlement leaves that to the reconciler, about a
 * minute later). Returns how many payments stay pending because they were never charged:
 * those are cancelled at the provider once the payment window ends, and move no money.
 */
async function settle(databaseUrl: string, eventId: string): Promise<number> {
  const db = createPostgresDb({ url: databaseUrl, poolMax: 1, connectTimeoutMs: 3_000,
    statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, idleInTransactionTimeoutMs: 30_000 });
  try {
    await waitFor('captured payments and refunds to settle', async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM payments p JOIN simulated_gateway_charges g
                   ON g.payment_id = p.payment_id::text
                  WHERE p.event_id = $1 AND p.status = 'pending' AND g.status <> 'cancelled')
              + (SELECT count(*) FROM refunds r JOIN orders o ON o.order_id = r.order_id
                  WHERE o.event_id = $1 AND r.status = 'requested') AS n`, [eventId]);
      return Number(rows[0]?.n) === 0;
    }, 180_000, 1_000);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments WHERE event_id = $1 AND status = 'pending'`,
      [eventId]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await db.close();
  }
}

async function runFault(cluster: LocalCluster, fault: Fault, options: ChaosOptions,
  seed: number, log: (line: string) => void): Promise<Row> {
  const acks = new AckLog();
  let eventId: string | undefined;
  let requests = 0;
  const sale = simulate(simOptions(cluster, options.fans, fault, seed, options.quick),
    process.env, (line) => log(`  ${line}`), {
      onReply: (method, url, reply) => {
        requests += 1;
        acks.observe(method, url, reply);
      },
      onEvent: (id) => {
        eventId = id;
      },
    });
  // Inject once the sale is busy: holds are being placed and some orders confirmed.
  const busy = waitFor('the sale to be busy', () => acks.holds.size >= 20 && acks.orders.size >= 5,
    120_000, 100);
  await Promise.race([busy, sale.then(() => {
    throw new Error('the sale ended before it was busy');
  })]);
  const faultAtMs = acks.now();
  log(`  fault: ${fault.name}`);
  const { notes } = await fault.inject(cluster, eventId as string);
  const injectedAtMs = acks.now();
  const report = await sale;
  await fault.heal(cluster);
  const healedAtMs = acks.now();
  const uncharged = await settle(cluster.databaseUrl, report.eventId);
  if (uncharged > 0) notes.push(`${uncharged} payments never charged, left to the window`);
  const db = createPostgresDb({ url: cluster.databaseUrl, poolMax: 2, connectTimeoutMs: 3_000,
    statementTimeoutMs: 60_000, lockTimeoutMs: 5_000, idleInTransactionTimeoutMs: 60_000 });
  try {
    const audit = await auditEvent(db, report.eventId);
    const checked = await acks.check(db);
    // The write path serves again when a hold or checkout is decided after the fault: a
    // confirmed write, or a refusal such as "seats taken" once few tickets are left.
    const resumedMs = acks.firstWriteAfter(injectedAtMs)
      ?? acks.firstAnsweredWriteAfter(injectedAtMs);
    // Nothing to resume when the tickets were gone or the crowd had stopped buying before
    // the fault was over (a fault that waits for duties to move, or five webhook rounds,
    // can outlast a small sale).
    const soldOutBefore = resumedMs === null
      && (report.sold >= report.capacity || acks.lastReplyAtMs < injectedAtMs
        || acks.lastWriteTryAtMs < injectedAtMs);
    const windowEndMs = Math.max(injectedAtMs, Math.min(healedAtMs, report.durationMs)) + 20_000;
    const row: Row = {
      fault: fault.name, fans: options.fans, sold: report.sold, capacity: report.capacity,
      audit, acks: checked, resumedMs, soldOutBefore,
      pauseMs: acks.longestPause(faultAtMs, windowEndMs),
      errorsInWindow: acks.errorsBetween(faultAtMs, windowEndMs),
      errorsTotal: acks.errors.length, requests, notes,
      ok: audit.ok && checked.lost.length === 0 && (resumedMs !== null || soldOutBefore),
    };
    return row;
  } finally {
    await db.close();
  }
}

function seconds(ms: number | null): string {
  return ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`;
}

function renderTable(rows: Row[]): string {
  const lines = [
    '| fault | fans | sold / tickets | audit | ' +
      'acknowledged (holds / orders / confirmed) | lost | ' +
      'writes resumed after the fault | recovery (longest write pause) | ' +
      'client errors (fault window / whole sale) | ' +
      'notes |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const failed = row.audit?.checks.filter((c) => !c.ok).map((c) => c.name) ?? [];
    const audit = row.audit === null
      ? 'not run'
      : failed.length === 0 ? 'clean' : failed.join('; ');
    const lost = row.acks.lost.length === 0
      ? '0'
      : `${row.acks.lost.length}: ${row.acks.lost.slice(0, 3).map((l) => `${l.kind} ${l.why}`)
        .join('; ')}`;
    lines.push(`| ${row.fault} | ${row.fans} | ${row.sold} / ${row.capacity} | ${audit} | ` +
      `${row.acks.holds} / ${row.acks.orders} / ${row.acks.confirmed} | ${lost} | ` +
      `${row.soldOutBefore ? 'sale over' : seconds(row.resumedMs)} | ${seconds(row.pauseMs)} | ` +
      `${row.errorsInWindow} / ${row.errorsTotal} of ${row.requests} | ${row.notes.join('; ')} |`);
  }
  return lines.join('\n');
}

const begin = '<!-- chaos:begin -->';
const end = '<!-- chaos:end -->';

function writeResults(table: string, options: ChaosOptions, startedAt: Date, tookMs: number):
  void {
  const file = path.join(repoRoot, 'docs', 'RELIABILITY.md');
  const doc = readFileSync(file, 'utf8');
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} lacks the ${begin} / ${end} markers`);
  const block = [
    begin,
    `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run chaos\`, ` +
      `${options.fans} fans per fault, ${(tookMs / 60_000).toFixed(1)} minutes in all, on a ` +
      'shared, loaded 2-core machine (other builds and test suites ran at the same time), ' +
      'so times are upper bounds, not what a dedicated cluster shows.',
    '',
    table,
    end,
  ].join('\n');
  writeFileSync(file, doc.slice(0, from) + block + doc.slice(to + end.length));
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const chosen = options.only.length === 0
    ? faults
    : faults.filter((f) => options.only.some((o) => f.name.toLowerCase().includes(o)));
  if (chosen.length === 0) throw new Error('no fault matches --faults');
  const startedAt = new Date();
  const log = (line: string): void => void process.stdout.write(`[chaos] ${line}\n`);
  let teardown: (() => Promise<void>) | undefined;
  const stopOnSignal = (): void => {
    void (teardown?.() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  const cluster = await startCluster({
    log, keep: options.keep, onTeardown: (fn) => {
      teardown = fn;
    },
    // One simulator address stands for the whole crowd: lift the per-address caps.
    nodeEnv: {
      RATE_LIMIT_WRITES_PER_IP: '10000000', RATE_LIMIT_JOINS_PER_IP: '10000000',
      RATE_LIMIT_HOLDS_PER_IP: '10000000', LOG_LEVEL: 'warn', PG_POOL_MAX: '10',
    },
  });
  const rows: Row[] = [];
  try {
    for (const [i, fault] of chosen.entries()) {
      log(`${i + 1}/${chosen.length} ${fault.name}: ${fault.what}`);
      const row = await runFault(cluster, fault, options, 1_000 + i, log);
      rows.push(row);
      log(`  ${row.ok ? 'ok' : 'FAILED'}: sold ${row.sold}/${row.capacity}, ` +
        `lost ${row.acks.lost.length}, resumed after ${seconds(row.resumedMs)}, ` +
        `longest pause ${seconds(row.pauseMs)}, ` +
        `errors ${row.errorsInWindow}/${row.errorsTotal}; ${row.notes.join('; ')}`);
    }
  } finally {
    await cluster.stop();
  }
  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  if (options.write) writeResults(table, options, startedAt, Date.now() - startedAt.getTime());
  const failed = rows.filter((row) => !row.ok).length;
  process.stdout.write(`chaos: ${rows.length - failed} passed, ${failed} failed\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
