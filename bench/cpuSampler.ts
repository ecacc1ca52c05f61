/**
 * Reads the rehearsal's CPU per role from /proc once a second, in the bench harness (never
 * in a server's hot path): the crowd (this process), each server node, PostgreSQL's sessions
 * grouped by the node whose pool they serve (their `application_name`), PostgreSQL's own
 * processes and other databases' sessions, Redis (its `INFO` pid), and the box's totals.
 * The figures and their windows are sim/cpuSplit.ts's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  parseBoxTicks, parseCpuPressureUs, parseProcessInfo, parseProcessTicks,
  parseReapedChildTicks, parseRunWaitNs,
  type CpuRole, type CpuSample, type RoleCounters,
} from '../sim/cpuSplit.js';

/** A process of the run with a role of its own. */
export interface RoleProcess {
  role: CpuRole;
  pid: number;
}

/** What to read: the run's processes, its database and which session serves which role. */
export interface CpuSamplerOptions {
  processes: RoleProcess[];
  databaseUrl: string;
  /** application_name → role: the sessions of each node's pool. */
  sessionRoles: Map<string, CpuRole>;
  redisUrl: string;
  everyMs?: number;
}

/** The roles PostgreSQL's other processes and Redis fall in. */
export const sharedRoles = {
  pgRun: { key: 'pg run other', label: 'pg other', eventLoop: false },
  pgBackground: { key: 'pg background', label: 'pg bg', eventLoop: false },
  pgOtherDatabases: { key: 'pg other databases', label: 'pg other db', eventLoop: false },
  /**
   * PostgreSQL processes that ended before a reading could name them (parallel workers,
   * short sessions) and every ended session's last second: the growth of the CPU the
   * postmaster reaped, less what the readings had counted of those processes. CPU only.
   */
  pgUnsampled: { key: 'pg unsampled', label: 'pg unsampled', eventLoop: false },
  redis: { key: 'redis', label: 'redis', eventLoop: true },
} satisfies Record<string, CpuRole>;

const readOrNull = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** USER_HZ, the unit of /proc's utime and stime (100 on every Linux we run on). */
export function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** What was last read of one process and its threads, to add only the growth. */
interface Seen {
  role: string;
  ticks: number;
  waits: Map<number, number>;
}

/** Reads once a second until stopped; `samples` holds the cumulative readings. */
export class CpuSampler {
  readonly samples: CpuSample[] = [];
  readonly everyMs: number;
  readonly ticksPerSecond = clockTicksPerSecond();
  readonly cores = os.availableParallelism();
  private readonly totals = new Map<string, RoleCounters>();
  private readonly seen = new Map<number, Seen>();
  private readonly client: pg.Client;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private startTicks = 0;
  private redisPid: number | null = null;
  private postmasterPid: number | null = null;
  /** The postmaster's reaped-children CPU at the first reading (ticks). */
  private reapedBaseTicks: number | null = null;
  /** The CPU the readings counted of PostgreSQL processes that have ended (absolute). */
  private endedTicks = 0;
  /** The pid → role map of the last reading that reached PostgreSQL. */
  private lastRoles = new Map<number, string>();
  private inFlight = false;
  private stopped = false;

  constructor(private readonly options: CpuSamplerOptions) {
    this.everyMs = options.everyMs ?? 1_000;
    this.client = new pg.Client({ connectionString: options.databaseUrl,
      application_name: 'stampede bench cpu sampler' });
    // A dropped connection must not end the harness (and lose the run's report): the
    // readings go on with the last known sessions.
    this.client.on('error', () => undefined);
  }

  /** The roles in report order: the processes', the sessions', then the shared ones. */
  roles(): CpuRole[] {
    const byKey = new Map<string, CpuRole>();
    for (const { role } of this.options.processes) byKey.set(role.key, role);
    for (const role of this.options.sessionRoles.values()) byKey.set(role.key, role);
    for (const role of Object.values(sharedRoles)) byKey.set(role.key, role);
    return [...byKey.values()];
  }

  /** Connects, finds Redis's pid and takes the first reading (the baseline). */
  async start(): Promise<void> {
    await this.client.connect();
    const redis = new Redis(this.options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const info = await redis.info('server');
      this.redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? Number.NaN) || null;
    } catch {
      this.redisPid = null;
    } finally {
      redis.disconnect();
    }
    const uptimeSeconds = Number((readOrNull('/proc/uptime') ?? '0').split(' ')[0]);
    this.startTicks = uptimeSeconds * this.ticksPerSecond;
    await this.read(true);
    this.timer = setInterval(() => {
      // On a saturated box a reading can take longer than the interval: skip, never queue.
      if (this.inFlight) return;
      this.inFlight = true;
      this.reading = this.read(false).catch(() => undefined)
        .finally(() => { this.inFlight = false; });
    }, this.everyMs);
  }

  /** Takes a last reading and closes; a second call does nothing. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.reading;
    await this.read(false).catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }

  /** Which process serves which role now: the fixed ones, then PostgreSQL's sessions. */
  private async pids(): Promise<Map<number, string>> {
    const roles = new Map<number, string>();
    let rows: { pid: number; datname: string | null; app: string; mine: boolean; kind: string }[];
    try {
      ({ rows } = await this.client.query(
        `SELECT pid, datname, application_name AS app, datname = current_database() AS mine,
                backend_type AS kind FROM pg_stat_activity`));
    } catch {
      return this.lastRoles;
    }
    for (const row of rows) {
      // Only sessions (and their parallel workers) go by application_name: autovacuum and
      // the like carry the database's name but serve no node.
      const session = row.kind === 'client backend' || row.kind === 'parallel worker';
      const role = row.datname === null || !session ? sharedRoles.pgBackground
        : row.mine !== true ? sharedRoles.pgOtherDatabases
          : this.options.sessionRoles.get(row.app) ?? sharedRoles.pgRun;
      roles.set(row.pid, role.key);
      if (this.postmasterPid === null) {
        const info = parseProcessInfo(readOrNull(`/proc/${row.pid}/stat`) ?? '');
        this.postmasterPid = info?.ppid ?? null;
      }
    }
    if (this.postmasterPid !== null) roles.set(this.postmasterPid, sharedRoles.pgBackground.key);
    if (this.redisPid !== null) roles.set(this.redisPid, sharedRoles.redis.key);
    for (const { role, pid } of this.options.processes) roles.set(pid, role.key);
    this.lastRoles = roles;
    return roles;
  }

  /** The roles whose processes are PostgreSQL's children (the postmaster reaps them). */
  private pgRoleKeys(): Set<string> {
    const keys = new Set([...this.options.sessionRoles.values()].map((role) => role.key));
    for (const role of [sharedRoles.pgRun, sharedRoles.pgBackground,
      sharedRoles.pgOtherDatabases]) keys.add(role.key);
    return keys;
  }

  /**
   * The postmaster's reaped-children CPU grown since the first reading, less the absolute
   * CPU the readings last saw of the PostgreSQL processes that have ended (counted already):
   * what no reading saw, into `pg unsampled`.
   */
  private readReaped(): void {
    if (this.postmasterPid === null) return;
    const stat = readOrNull(`/proc/${this.postmasterPid}/stat`);
    const reaped = stat === null ? null : parseReapedChildTicks(stat);
    if (reaped === null) return;
    if (this.reapedBaseTicks === null) this.reapedBaseTicks = reaped;
    // Reaped since the start less what the readings counted of the processes that ended:
    // a running balance, so an end counted a reading before its reap (or after) evens out;
    // it only ever grows, as the role's other counters do.
    const unsampled = reaped - this.reapedBaseTicks - this.endedTicks;
    const counters = this.total(sharedRoles.pgUnsampled.key);
    counters.cpuTicks = Math.max(counters.cpuTicks, unsampled);
  }

  private total(role: string): RoleCounters {
    let counters = this.totals.get(role);
    if (counters === undefined) {
      counters = { cpuTicks: 0, waitNs: 0, mainWaitNs: 0 };
      this.totals.set(role, counters);
    }
    return counters;
  }

  /**
   * Adds each process's growth since the last reading to its role. A process first seen
   * after the start counts from zero when it started after the sampler (a pool's new
   * session), from now when it was already running (its past is not the run's).
   */
  private readProcess(pid: number, role: string, first: boolean): void {
    const stat = readOrNull(`/proc/${pid}/stat`);
    const ticks = stat === null ? null : parseProcessTicks(stat);
    if (stat === null || ticks === null) return;
    let seen = this.seen.get(pid);
    // Threads met at a process's first reading count from now unless the process is new.
    let baselineNow = false;
    if (seen === undefined || seen.role !== role) {
      const startedSince = !first && (parseProcessInfo(stat)?.startTicks ?? 0) >= this.startTicks;
      baselineNow = !startedSince;
      seen = { role, ticks: startedSince ? 0 : ticks, waits: new Map() };
      this.seen.set(pid, seen);
    }
    const counters = this.total(role);
    counters.cpuTicks += Math.max(0, ticks - seen.ticks);
    seen.ticks = ticks;
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const name of tids) {
      const tid = Number(name);
      const wait = parseRunWaitNs(readOrNull(`/proc/${pid}/task/${name}/schedstat`) ?? '');
      if (wait === null) continue;
      // A thread new to a process already seen started since the last reading: count it whole.
      const before = seen.waits.get(tid) ?? (baselineNow ? wait : 0);
      const grown = Math.max(0, wait - before);
      counters.waitNs += grown;
      if (tid === pid) counters.mainWaitNs += grown;
      seen.waits.set(tid, wait);
    }
    // Threads that ended leave the map, so a reused thread id starts afresh.
    for (const tid of seen.waits.keys()) if (!tids.includes(String(tid))) seen.waits.delete(tid);
  }

  private async read(first: boolean): Promise<void> {
    const roles = await this.pids();
    for (const [pid, role] of roles) this.readProcess(pid, role, first);
    this.readReaped();
    const pgRoles = this.pgRoleKeys();
    for (const [pid, seen] of this.seen) {
      // A PostgreSQL process counts as ended once it is gone from /proc, read after the
      // postmaster's reaped CPU: reaped before that read, it is in this reading's growth;
      // after, in the next one's (the running balance in readReaped evens that out).
      if (pgRoles.has(seen.role)) {
        if (existsSync(`/proc/${pid}/stat`)) continue;
        this.endedTicks += seen.ticks;
      } else if (roles.has(pid)) {
        continue;
      }
      this.seen.delete(pid);
    }
    const box = parseBoxTicks(readOrNull('/proc/stat') ?? '');
    if (box === null) return;
    const pressure = readOrNull('/proc/pressure/cpu');
    this.samples.push({
      atMs: Date.now(),
      box: { ...box, pressureSomeUs: pressure === null ? null : parseCpuPressureUs(pressure) },
      roles: Object.fromEntries([...this.totals].map(([key, c]) => [key, { ...c }])),
    });
  }
}
