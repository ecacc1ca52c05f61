/**
 * The seed-scale rehearsal, measured by the simulator: 1,000,000 customers for a 50,000-ticket
 * event on real PostgreSQL and Redis on this machine, with the invariant audit. Not part of
 * the default `npm run bench` (it takes a quarter of an hour); run it with
 * `npm run bench -- simulation`. SIM_CUSTOMERS / SIM_SEATS / SIM_STANDING /
 * SIM_ADMIT_PER_MINUTE / SIM_MAX_ACTIVE / SIM_MAX_SECONDS override the sizes.
 *
 * The server is the built `stampede serve` in processes of their own, as an operator runs it,
 * so the crowd (a million records and their timers) and the server each have an event loop.
 * SIM_LAYOUT=split (the default) runs three nodes of one deployment: the waiting room's, the
 * store's and a worker for the singleton duties (see `layoutNodes`); SIM_LAYOUT=single runs
 * one node for everything; SIM_SERVER=inprocess runs the server in this process instead, as
 * `stampede simulate` does. Each node's /metrics is scraped every 30 s, so the report gives
 * the server-side latency of holds, checkouts, polls and joins beside the simulator's, and
 * /proc is read every second (bench/cpuSampler.ts) for the CPU each role used and the time
 * its threads waited for a core, per 30 s window (report.txt's "CPU used" and "run delay").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../src/core/ports.js';
import { deleteRedisPrefix } from '../src/testing/services.js';
import { defaultOptions, type SimOptions } from '../sim/options.js';
import { pacingLines } from '../sim/pacing.js';
import { simulate, writeReport } from '../sim/run.js';
import { reportStages, sampleActivity } from './simStages.js';
import { CpuSampler } from './cpuSampler.js';
import { pgStatements, statementsText } from './pgStatements.js';
import { cpuSplit, type CpuRole, type CpuSplit } from '../sim/cpuSplit.js';
import { benchPostgres, type BenchRow, type BenchSection } from './lib.js';
import {
  between, histogramBuckets, quantileBoundMs, routeBuckets, shareWithin, total, type Buckets,
} from '../sim/serverLatency.js';

const number = (name: string, fallback: number): number => {
  const raw = process.env[name];
  return raw === undefined ? fallback : Number(raw);
};

/** A `stampede serve` child process and what the simulator needs to target it. */
interface ServerProcess {
  name: string;
  url: string;
  /** The node's process id, for the CPU split. */
  pid: number | undefined;
  stop(): Promise<void>;
  /** The stage tracer's figures (bench/serverStages.mjs), on a node started with it. */
  stages?: () => Promise<Record<string, unknown>>;
}

/** What every node of one deployment shares: an operator sets these alike on each node. */
interface Deployment {
  env: NodeJS.ProcessEnv;
  adminToken: string;
  secret: string;
  redisKeyPrefix: string;
}

/** One node of the deployment: what it is for, which duties it runs, its pool. */
interface NodeSpec {
  name: string;
  roles: string;
  poolMax: number;
  /**
   * The node's CPU priority (`nice`) when SIM_PRIORITIES is on: on one shared box it stands
   * for the cores a node would have to itself in the cluster shape.
   */
  nice: number;
}

/**
 * CPU priorities on (SIM_PRIORITIES=on) or off (the default). On one box the crowd (this
 * process, standing for a million fans' own devices), the waiting room's node and the store's
 * share two cores with PostgreSQL; in the cluster shape an operator gives the store and the
 * database cores the crowd's work cannot take. Nice values are the one-box stand-in: the
 * crowd at 10, the waiting room's node and its PostgreSQL sessions at 5, the store, the
 * worker, their sessions and Redis at 0.
 * A lower share only matters while the cores are contended; idle cores go to anyone.
 */
const prioritiesOn = process.env.SIM_PRIORITIES === 'on';
const crowdNice = 10;

/**
 * The nodes of the rehearsal. `split` (the default) is the cluster shape an operator runs
 * for an on-sale: the waiting room's traffic on one node, the store's on another (a
 * balancer routes by path or host), and the singleton duties (admission ticks, sweeps, the
 * outbox relay, notifications) on a worker node, so that a shopper's hold never waits in an
 * event loop behind a million joins. `single`: one node does everything.
 */
function layoutNodes(layout: string): NodeSpec[] {
  if (layout === 'single') {
    return [{ name: 'server', roles: 'api,worker,realtime', poolMax: 40, nice: 0 }];
  }
  if (layout !== 'split') throw new Error(`SIM_LAYOUT must be split or single, not ${layout}`);
  return [
    { name: 'waiting room', roles: 'api,realtime', poolMax: 24, nice: 5 },
    { name: 'store', roles: 'api,realtime', poolMax: 32, nice: 0 },
    { name: 'worker', roles: 'worker', poolMax: 12, nice: 0 },
  ];
}

/** The `application_name` of a node's PostgreSQL sessions. */
function appName(node: NodeSpec): string {
  return `stampede ${node.name}`;
}

/**
 * Gives each node's PostgreSQL sessions the node's CPU priority, checking for new sessions
 * every second: the waiting room's joins then yield the database's cores to the store's
 * holds, as on a database host apart from the crowd's work. Stops with the returned call.
 */
function prioritiseSessions(databaseUrl: string, specs: NodeSpec[]): () => Promise<void> {
  const niceByApp = new Map(specs.filter((spec) => spec.nice !== 0)
    .map((spec) => [appName(spec), spec.nice]));
  const done = new Set<number>();
  const client = new pg.Client({ connectionString: databaseUrl });
  const connected = client.connect();
  const tick = async (): Promise<void> => {
    await connected;
    const { rows } = await client.query<{ pid: number; app: string }>(
      `SELECT pid, application_name AS app FROM pg_stat_activity
        WHERE application_name = ANY($1::text[])`, [[...niceByApp.keys()]]);
    for (const { pid, app } of rows) {
      if (done.has(pid)) continue;
      done.add(pid);
      // A session that ended since the read is no longer there to renice.
      try { setPriority(pid, niceByApp.get(app) ?? 0); } catch { /* gone */ }
    }
  };
  const timer = setInterval(() => void tick().catch(() => undefined), 1_000);
  return async () => {
    clearInterval(timer);
    await client.end().catch(() => undefined);
  };
}

/** Starts the built server on a free port and waits until it answers /readyz. */
async function startServerProcess(
  deployment: Deployment, node: NodeSpec, traced = false,
): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stampede-bench-sim-'));
  const argv = [...(traced ? ['--import', './bench/serverStages.mjs'] : []),
    'dist/src/cli/main.js', 'serve'];
  const child: ChildProcess = spawn(process.execPath, argv, {
    env: {
      ...deployment.env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url,
      STAMPEDE_DATA_DIR: dataDir, STAMPEDE_ADMIN_TOKEN: deployment.adminToken,
      STAMPEDE_SEED_DEMO: 'false', ROLES: node.roles, PG_POOL_MAX: String(node.poolMax),
      // Names the node's database sessions, so its share of PostgreSQL can be told apart.
      PGAPPNAME: appName(node),
      // Each run is a deployment of its own (a fresh database) on the shared Redis: it takes
      // a key prefix of its own, or it would be refused while the last run's claim lapses.
      REDIS_KEY_PREFIX: deployment.redisKeyPrefix,
      PAYMENT_PROVIDER: 'simulated', STAMPEDE_SECRET: deployment.secret,
      LOG_LEVEL: 'error',
      // One simulator address stands for the whole crowd: lift the per-address caps (the
      // per-customer limits stay as configured), as the in-process target does.
      RATE_LIMIT_WRITES_PER_IP: '10000000', RATE_LIMIT_JOINS_PER_IP: '10000000',
      RATE_LIMIT_HOLDS_PER_IP: '10000000',
    },
    stdio: ['ignore', 'ignore', 'inherit', ...(traced ? ['ipc' as const] : [])],
  });
  if (prioritiesOn && node.nice !== 0 && child.pid !== undefined) {
    setPriority(child.pid, node.nice);
  }
  const stages = !traced ? undefined : (): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const onMessage = (reply: Record<string, unknown>): void => {
        if (reply.kind !== 'stats') return;
        child.off('message', onMessage);
        resolve(reply);
      };
      child.on('message', onMessage);
      child.send('stats');
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (let waitedMs = 0; waitedMs < 60_000; waitedMs += 250) {
    if (child.exitCode !== null) break;
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) {
      return { name: node.name, url, pid: child.pid, stop,
        ...(stages === undefined ? {} : { stages }) };
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`the ${node.name} node did not become ready within 60 s (run npm run build)`);
}

/** Starts the nodes one after another (the first runs the migrations alone). */
async function startNodes(deployment: Deployment, specs: NodeSpec[]): Promise<ServerProcess[]> {
  const nodes: ServerProcess[] = [];
  try {
    for (const spec of specs) {
      // SIM_STAGES traces the store's node (or the single node): where a hold's time goes.
      const traced = process.env.SIM_STAGES !== undefined && spec.name !== 'waiting room' &&
        spec.name !== 'worker';
      nodes.push(await startServerProcess(deployment, spec, traced));
    }
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return nodes;
}

/** A route whose server-side latency the run reports (summed over the nodes). */
interface WatchedRoute {
  label: string;
  method: string;
  route: string;
}

const watchedRoutes: WatchedRoute[] = [
  { label: 'hold', method: 'POST', route: '/api/v1/events/:eventId/holds' },
  { label: 'checkout', method: 'POST', route: '/api/v1/holds/:holdId/checkout' },
  { label: 'queue poll', method: 'GET', route: '/api/v1/events/:eventId/queue/me' },
  { label: 'queue join', method: 'POST', route: '/api/v1/events/:eventId/queue' },
];

/** Scrapes every node's /metrics each interval, so the report can give each minute. */
class MetricsSampler {
  readonly samples: { atMs: number; texts: string[] }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly nodes: ServerProcess[], private readonly everyMs: number) {}

  async start(): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sample();
  }

  private async sample(): Promise<void> {
    const atMs = Date.now();
    const texts = await Promise.all(this.nodes.map((node) =>
      fetch(`${node.url}/metrics`).then((r) => r.text(), () => '')));
    // A node that did not answer leaves a gap rather than a false zero.
    if (texts.every((text) => text !== '')) this.samples.push({ atMs, texts });
  }

  /** A histogram's buckets summed over the nodes, at sample i. */
  histogram(i: number, name: string): Buckets {
    const sum: Buckets = new Map();
    for (const text of this.samples[i]?.texts ?? []) {
      for (const [bound, count] of histogramBuckets(text, name)) {
        sum.set(bound, (sum.get(bound) ?? 0) + count);
      }
    }
    return sum;
  }

  /**
   * A hold's two stages in its batch, over the run (bucket bounds): the wait for its batch
   * to start, and the batch's run (one round trip and commit).
   */
  holdStageRows(): BenchRow[] {
    const last = this.samples.length - 1;
    if (last < 1) return [];
    const seconds = ((this.samples[last]?.atMs ?? 0) - (this.samples[0]?.atMs ?? 0)) / 1000;
    const stages = [
      ['hold batch wait (per hold)', 'stampede_hold_batch_wait_seconds'],
      ['hold batch run (per batch)', 'stampede_hold_batch_run_seconds'],
    ] as const;
    return stages.map(([label, name]) => {
      const whole = between(this.histogram(0, name), this.histogram(last, name));
      return {
        name: `server side: ${label}`, opsPerSec: total(whole) / seconds,
        p50Ms: quantileBoundMs(whole, 0.5), p99Ms: quantileBoundMs(whole, 0.99),
        ops: total(whole), errors: 0,
        notes: `bucket bounds; ${(shareWithin(whole, 0.1) * 100).toFixed(2)} % within 100 ms`,
      };
    }).filter((row) => row.ops > 0);
  }

  /** A route's buckets summed over the nodes, at sample i. */
  buckets(i: number, watched: WatchedRoute): Buckets {
    const sum: Buckets = new Map();
    for (const text of this.samples[i]?.texts ?? []) {
      for (const [bound, count] of routeBuckets(text, watched.method, watched.route)) {
        sum.set(bound, (sum.get(bound) ?? 0) + count);
      }
    }
    return sum;
  }

  /**
   * One row per watched route: the whole run's server-side p50/p99 (bucket bounds), and in
   * the notes the share within 100 ms and the worst interval with at least 100 requests.
   */
  rows(): BenchRow[] {
    const last = this.samples.length - 1;
    if (last < 1) return [];
    const seconds = ((this.samples[last]?.atMs ?? 0) - (this.samples[0]?.atMs ?? 0)) / 1000;
    return watchedRoutes.map((watched) => {
      const whole = between(this.buckets(0, watched), this.buckets(last, watched));
      let worst = { p99Ms: 0, count: 0, atS: 0 };
      for (let i = 1; i <= last; i += 1) {
        const interval = between(this.buckets(i - 1, watched), this.buckets(i, watched));
        const p99Ms = quantileBoundMs(interval, 0.99);
        if (total(interval) >= 100 && p99Ms > worst.p99Ms) {
          const atS = ((this.samples[i]?.atMs ?? 0) - (this.samples[0]?.atMs ?? 0)) / 1000;
          worst = { p99Ms, count: total(interval), atS };
        }
      }
      const within = (shareWithin(whole, 0.1) * 100).toFixed(2);
      // Past the histogram's last finite bound (10 s) a quantile has no figure: say so.
      const beyond = [['p50', quantileBoundMs(whole, 0.5)], ['p99', quantileBoundMs(whole, 0.99)]]
        .filter(([, ms]) => ms === Infinity).map(([name]) => `${name} beyond 10 s; `).join('');
      return {
        name: `server side: ${watched.label}`,
        opsPerSec: total(whole) / seconds,
        p50Ms: quantileBoundMs(whole, 0.5), p99Ms: quantileBoundMs(whole, 0.99),
        ops: total(whole), errors: 0,
        notes: `${beyond}bucket bounds (p99 ≤ the figure); ${within} % within 100 ms; worst ` +
          `${this.everyMs / 1000} s interval p99 ` +
          `${worst.p99Ms === Infinity ? 'beyond 10 s' : `≤ ${worst.p99Ms} ms`} (${worst.count} ` +
          `requests, ending ${worst.atS.toFixed(0)} s into the run)`,
      };
    });
  }
}

/** A short column name for a node in the CPU split's tables. */
const shortName = (name: string): string => name === 'waiting room' ? 'wr' : name;

/** The node's process as a role of the CPU split. */
const nodeRole = (name: string): CpuRole =>
  ({ key: `node ${name}`, label: `${shortName(name)} node`, eventLoop: true });

/** The node's PostgreSQL sessions as a role of the CPU split. */
const sessionRole = (name: string): CpuRole =>
  ({ key: `pg ${name}`, label: `pg ${shortName(name)}`, eventLoop: false });

/** The crowd: this process (the simulator, and the harness's own readings). */
const crowdRole: CpuRole = { key: 'crowd', label: 'crowd', eventLoop: true };

/**
 * Reads the CPU per role once a second: the crowd, the nodes, their sessions, PostgreSQL's
 * own processes, other databases' sessions (other work on the box), Redis.
 */
function cpuSampler(databaseUrl: string, specs: NodeSpec[], nodes: ServerProcess[]): CpuSampler {
  const processes = [{ role: crowdRole, pid: process.pid },
    ...nodes.flatMap((node) => node.pid === undefined ? []
      : [{ role: nodeRole(node.name), pid: node.pid }])];
  return new CpuSampler({
    processes, databaseUrl,
    sessionRoles: new Map(specs.map((spec) => [appName(spec), sessionRole(spec.name)])),
    redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  });
}

/** The whole run's split per role, one row each (rate and latency columns are empty). */
export function cpuRows(split: CpuSplit): BenchRow[] {
  const f = (value: number | null): string =>
    value === null || !Number.isFinite(value) ? '–' : value.toFixed(2);
  const row = (name: string, notes: string): BenchRow => ({ name: `CPU split: ${name}`,
    opsPerSec: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, ops: 0, errors: 0, notes });
  const busiest = (key: string) => split.windows.reduce<CpuSplit['whole'] | null>((best, w) =>
    (w.roles[key]?.runWaitCores ?? 0) > (best?.roles[key]?.runWaitCores ?? -1) ? w : best, null);
  const rows = split.roles.map((role) => {
    const whole = split.whole.roles[role.key];
    const worst = busiest(role.key);
    const worstFigures = worst?.roles[role.key];
    // Seconds waited for a core per second on one: how much a role's work is stretched.
    const perCpu = whole === undefined || whole.cpuCores === 0 ? null
      : whole.runWaitCores / whole.cpuCores;
    return row(role.key, `cores over the run: CPU ${f(whole?.cpuCores ?? null)}, run delay ` +
      `${f(whole?.runWaitCores ?? null)}` +
      (role.eventLoop ? ` (event loop ${f(whole?.mainThreadWaitCores ?? null)})` : '') +
      `, ${f(perCpu)} s of it per CPU second` +
      (worst === null || worstFigures === undefined ? ''
        : `; most delayed ${split.windowSeconds} s window ${worst.fromSeconds}–${worst.toSeconds}` +
          ` s after on-sale: CPU ${f(worstFigures.cpuCores)}, run delay ` +
          `${f(worstFigures.runWaitCores)}` +
          (role.eventLoop ? ` (event loop ${f(worstFigures.mainThreadWaitCores)})` : '')));
  });
  rows.push(row('box', `cores over the run: busy ${f(split.whole.busyCores)} of ` +
    `${split.cores}, steal ${f(split.whole.stealCores)}, not accounted for by the roles ` +
    `${f(split.whole.restCores)}; some task waiting for a core ` +
    `${split.whole.pressureSomeShare === null ? '–'
      : `${(split.whole.pressureSomeShare * 100).toFixed(1)} %`} of the time (PSI)`));
  return rows;
}

/** How the run's server was shaped, for the section's description. */
function serverShape(layout: string, nodes: ServerProcess[]): string {
  if (nodes.length === 0) return 'in the simulator\'s process';
  if (layout === 'single') return 'one node in its own process';
  return `${nodes.length} nodes in processes of their own (${nodes.map((n) => n.name).join(', ')}; ` +
    'the simulator sends the waiting room\'s requests to the first, the store\'s to the second)' +
    (prioritiesOn
      ? `; CPU priorities: the crowd nice ${crowdNice}, the waiting room's node and its ` +
        'PostgreSQL sessions nice 5, the store, the worker, their sessions and Redis 0'
      : '; all processes at one CPU priority');
}

/** Runs the simulation against a fresh PostgreSQL database and the local Redis. */
export async function run(): Promise<BenchSection> {
  const db = await benchPostgres(1);
  const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/${rows[0]?.name ?? ''}`;
  const options: SimOptions = {
    ...defaultOptions,
    customers: number('SIM_CUSTOMERS', 1_000_000),
    seats: number('SIM_SEATS', 40_000),
    standing: number('SIM_STANDING', 10_000),
    // 250 admissions a second, and slots enough that the rate, not the slots, is the limit:
    // a slot lasts as long as the visit, and the fan who walks away from a cart (10 %) keeps
    // theirs until the cart lapses (120 s). Measured in a 100,000-fan run (2026-11-26): a
    // buyer's slot 22 s, one who left 26 s, an idle one 54 s, an abandoned cart 119 s; 34 s
    // on average, so 250/s needs ~8,400 slots. (3,000 paced that run at ~90/s.) On two
    // shared cores the box and the simulator's 256 shopper connections bound it first
    // (docs/benchmarks-journal.md, "The seed-scale rehearsal again, after this round").
    admitPerMinute: number('SIM_ADMIT_PER_MINUTE', 15_000),
    maxActiveShoppers: number('SIM_MAX_ACTIVE', 9_000),
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
  const layout = process.env.SIM_LAYOUT ?? 'split';
  if (layout === 'split') {
    // The shoppers' lane sized to the slots, so a fan with a pass never waits for a socket
    // in the simulator (with 256 a shopper's poll waited 8.8 s at p50 at the client).
    options.shopConnections = Math.min(options.maxActiveShoppers, 4_096);
  }
  const redisKeyPrefix = `bench-sim-${randomBytes(4).toString('hex')}:`;
  const deployment: Deployment = {
    env: {
      ...process.env, DATABASE_URL: url.toString(),
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      // The in-process server reads this env too: a run never shares the default prefix.
      REDIS_KEY_PREFIX: redisKeyPrefix,
      SIM_LOG_LEVEL: 'error', PG_POOL_MAX: '40',
    },
    adminToken: randomBytes(24).toString('hex'),
    secret: randomBytes(32).toString('hex'),
    redisKeyPrefix,
  };
  const env = deployment.env;
  const nodes = process.env.SIM_SERVER === 'inprocess' ? []
    : await startNodes(deployment, layoutNodes(layout));
  const [crowdNode, storeNode] = nodes;
  // The crowd stands for a million fans' own devices: it yields the cores to the server.
  // Set after the nodes started, which would otherwise inherit it.
  if (prioritiesOn) setPriority(crowdNice);
  const stopPriorities = prioritiesOn && nodes.length > 0
    ? prioritiseSessions(url.toString(), layoutNodes(layout)) : async () => undefined;
  if (crowdNode !== undefined) {
    options.url = crowdNode.url;
    options.adminToken = deployment.adminToken;
    options.auditDatabaseUrl = url.toString();
    if (layout === 'split') options.shopUrl = storeNode?.url;
  }
  const sampler = new MetricsSampler(nodes, 30_000);
  if (nodes.length > 0) await sampler.start();
  const cpu = cpuSampler(url.toString(), layoutNodes(layout), nodes);
  const stagesFile = process.env.SIM_STAGES;
  const activity = stagesFile === undefined ? undefined : sampleActivity(url.toString());
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  // Per statement, when the server loads pg_stat_statements (bench/pgStatements.ts).
  const statements = await pgStatements(db);
  try {
    await cpu.start();
    await statements?.reset();
    const report = await simulate(options, env);
    const statementRows = await statements?.read();
    await sampler.stop();
    await cpu.stop();
    report.cpuSplit = cpuSplit(cpu.samples, Date.parse(report.startedAt) + report.onSaleAtMs, {
      windowSeconds: 30, sampleEveryMs: cpu.everyMs, ticksPerSecond: cpu.ticksPerSecond,
      cores: cpu.cores, roles: cpu.roles(),
    });
    if (stagesFile !== undefined && activity !== undefined) {
      const traced = nodes.find((node) => node.stages !== undefined);
      reportStages(stagesFile, await traced?.stages?.(), await activity.stop(),
        { start: load0, end: readFileSync('/proc/loadavg', 'utf8').trim() });
    }
    process.stderr.write(writeReport(report, options.reportDir));
    if (statementRows !== undefined) {
      const file = path.join(options.reportDir, 'statements.txt');
      writeFileSync(file, statementsText(statementRows));
      process.stderr.write(`simulate: PostgreSQL statements in ${file}\n`);
    }
    const rowsOut: BenchRow[] = report.steps.map((step) => ({
      name: `simulation step: ${step.step}`,
      opsPerSec: step.count / (report.durationMs / 1000),
      p50Ms: step.p50Ms, p99Ms: step.p99Ms, ops: step.count, errors: step.errors,
      notes: JSON.stringify(step.statuses),
    }));
    rowsOut.push(...sampler.rows(), ...sampler.holdStageRows(), ...cpuRows(report.cpuSplit));
    const sellOut = report.soldOutAtMs === null ? 'not sold out'
      : `sold out ${((report.soldOutAtMs - report.onSaleAtMs) / 1000).toFixed(1)} s after on-sale`;
    const audit = report.audit === null ? 'audit not run'
      : report.audit.ok ? 'audit clean' : 'AUDIT FAILED';
    return {
      title: `Simulation: ${options.customers.toLocaleString('en-US')} customers, ` +
        `${report.capacity.toLocaleString('en-US')} tickets (PostgreSQL + Redis)`,
      description: `stampede simulate, seed ${options.seed}, admission ${options.admitPerMinute}` +
        `/min, at most ${options.maxActiveShoppers} shoppers, server ` +
        `${serverShape(layout, nodes)}` +
        `. ${report.sold} sold, ${sellOut}, ` +
        `run ${(report.durationMs / 1000).toFixed(0)} s (${report.stoppedBy}), ${audit}. ` +
        `Fairness tau ${report.fairness.joinVsNumberTau?.toFixed(4) ?? '–'} (after on-sale), ` +
        `${report.fairness.preQueueTau?.toFixed(3) ?? '–'} (pre-queue draw). ` +
        'Rates are per second of the whole run. ' +
        // Whether store pacing acted and how holds fared (sim/pacing.ts; report.txt has
        // the windows).
        pacingLines(report.timeline, report.onSaleAtMs).slice(0, 3)
          .map((line) => line.replace(/\s+/g, ' ').trim()).join('. ') + '.',
      rows: rowsOut,
    };
  } finally {
    await stopPriorities();
    await cpu.stop();
    await activity?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    await db.close();
    // The run's deployment is gone with its database: its leases and queue keys go too.
    await deleteRedisPrefix(redisKeyPrefix);
  }
}
