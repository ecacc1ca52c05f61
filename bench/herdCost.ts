/**
 * What a herd costs, beside its rate (bench/herd.ts): CPU of this process (all threads) and
 * of its main thread (the server's event loop; the load client runs in a worker thread), CPU
 * of the database's backends serving the bench's database (from /proc, since the shared
 * PostgreSQL may not load pg_stat_statements). Read per move.
 */
import { readFile } from 'node:fs/promises';

import type { Db } from '../src/storage/index.js';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/** A reading to subtract from a later one. */
export interface CostMark {
  processUs: number;
  mainThreadMs: number;
  backendTicks: Map<number, number>;
}

/** CPU per move between two marks. */
export interface HerdCost {
  processMsPerMove: number;
  serverThreadMsPerMove: number;
  backendMsPerMove: number;
}

async function cpuTicks(path: string): Promise<number | undefined> {
  try {
    const stat = await readFile(path, 'utf8');
    // Fields after the command (which may hold spaces): utime is 14th, stime 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Takes a reading; `backends` keeps the latest ticks per backend pid across readings. */
export async function costMark(db: Db, backends = new Map<number, number>()): Promise<CostMark> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  for (const { pid } of rows) {
    const ticks = await cpuTicks(`/proc/${pid}/stat`);
    if (ticks !== undefined) backends.set(pid, ticks);
  }
  const usage = process.cpuUsage();
  return {
    processUs: usage.user + usage.system,
    mainThreadMs: ((await cpuTicks(`/proc/self/task/${process.pid}/stat`)) ?? 0) * 10,
    backendTicks: new Map(backends),
  };
}

/**
 * Follows the database's backends while `running()` (connections come and go), so a
 * backend born during the herd counts from zero and one that ends counts to its last reading.
 */
export function followBackends(db: Db, running: () => boolean): {
  latest: Map<number, number>; done: Promise<void>;
} {
  const latest = new Map<number, number>();
  const done = (async () => {
    while (running()) {
      await costMark(db, latest);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return { latest, done };
}

/** The cost per move between `start` and `end`. */
export function herdCost(start: CostMark, end: CostMark, moves: number): HerdCost {
  let backendTicks = 0;
  for (const [pid, ticks] of end.backendTicks) {
    backendTicks += ticks - (start.backendTicks.get(pid) ?? 0);
  }
  const per = Math.max(1, moves);
  return {
    processMsPerMove: (end.processUs - start.processUs) / 1000 / per,
    serverThreadMsPerMove: (end.mainThreadMs - start.mainThreadMs) / per,
    backendMsPerMove: (backendTicks * 1000) / ticksPerSecond / per,
  };
}
