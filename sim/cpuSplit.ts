/**
 * Where a rehearsal's CPU went, per role: the crowd, each server node, PostgreSQL's sessions
 * grouped by the node they serve, Redis and the rest of the box, in the report's windows.
 * For each role, the CPU it used (utime + stime, all threads) and the time its threads were
 * runnable but waiting for a core (schedstat's run delay): on a box with fewer cores than
 * busy threads, a request's latency is mostly the second figure, which no trace inside the
 * server sees. Pure (text in, figures out); bench/cpuSampler.ts reads /proc once a second.
 */

/** A group of processes the split reports on. */
export interface CpuRole {
  key: string;
  /** The column heading in the text report (short). */
  label: string;
  /** One process whose main thread is its event loop: its own run delay is reported too. */
  eventLoop: boolean;
}

/** Cumulative counters of one role since the sampler started. */
export interface RoleCounters {
  cpuTicks: number;
  waitNs: number;
  /** The run delay of the processes' main threads (the event loop of a Node process). */
  mainWaitNs: number;
}

/** The box's cumulative counters (/proc/stat's cpu line, /proc/pressure/cpu). */
export interface BoxCounters {
  busyTicks: number;
  stealTicks: number;
  totalTicks: number;
  /** Time at least one task waited for a core (PSI `some`), µs; null without PSI. */
  pressureSomeUs: number | null;
}

/** One reading: every counter cumulative, so a lost reading loses no time. */
export interface CpuSample {
  atMs: number;
  box: BoxCounters;
  roles: Record<string, RoleCounters>;
}

/** A role's figures over a window, in cores (seconds of it per second of the window). */
export interface RoleFigures {
  cpuCores: number;
  runWaitCores: number;
  mainThreadWaitCores: number;
}

/** The split over one window (seconds after on-sale), or over the whole run. */
export interface CpuWindow {
  fromSeconds: number;
  toSeconds: number;
  /** Seconds of the window the samples covered. */
  coveredSeconds: number;
  busyCores: number;
  stealCores: number;
  /** The box's busy cores that no role accounts for: other work on the box, the kernel. */
  restCores: number;
  /** Share of the time at least one task on the box waited for a core; null: no PSI. */
  pressureSomeShare: number | null;
  roles: Record<string, RoleFigures>;
}

/** What the rehearsal's result carries. */
export interface CpuSplit {
  windowSeconds: number;
  sampleEveryMs: number;
  ticksPerSecond: number;
  cores: number;
  roles: CpuRole[];
  whole: CpuWindow;
  windows: CpuWindow[];
}

const numberOrNull = (text: string | undefined): number | null => {
  if (text === undefined || text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
};

/**
 * /proc/<pid>/stat after the command name: the name may hold spaces and parentheses, so
 * the fields are counted from the last ')'. Index 0 is field 3 (state).
 */
function statFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  return close < 0 ? [] : stat.slice(close + 2).trim().split(/\s+/);
}

/** utime + stime of /proc/<pid>/stat (fields 14 and 15), clock ticks, all threads. */
export function parseProcessTicks(stat: string): number | null {
  const fields = statFields(stat);
  const utime = numberOrNull(fields[11]);
  const stime = numberOrNull(fields[12]);
  return utime === null || stime === null ? null : utime + stime;
}

/**
 * cutime + cstime of /proc/<pid>/stat (fields 16 and 17): the CPU of the process's children
 * that ended and were waited for, clock ticks. PostgreSQL's postmaster reaps every backend,
 * so its growth holds the CPU of sessions and workers too short-lived to be read by name.
 */
export function parseReapedChildTicks(stat: string): number | null {
  const fields = statFields(stat);
  const cutime = numberOrNull(fields[13]);
  const cstime = numberOrNull(fields[14]);
  return cutime === null || cstime === null ? null : cutime + cstime;
}

/** The parent pid (field 4) and the start time after boot in ticks (field 22). */
export function parseProcessInfo(stat: string): { ppid: number; startTicks: number } | null {
  const fields = statFields(stat);
  const ppid = numberOrNull(fields[1]);
  const startTicks = numberOrNull(fields[19]);
  return ppid === null || startTicks === null ? null : { ppid, startTicks };
}

/** Field 2 of /proc/<pid>/task/<tid>/schedstat: ns runnable but waiting for a core. */
export function parseRunWaitNs(schedstat: string): number | null {
  return numberOrNull(schedstat.trim().split(/\s+/)[1]);
}

/**
 * The first line of /proc/stat. Busy is user, nice, system, irq and softirq (guest time is
 * already inside user); steal is time the hypervisor gave the box's cores to others.
 */
export function parseBoxTicks(procStat: string): Omit<BoxCounters, 'pressureSomeUs'> | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return null;
  const [user, nice, system, idle, iowait, irq, softirq, steal] =
    line.trim().split(/\s+/).slice(1, 9).map((field) => Number(field));
  const all = [user, nice, system, idle, iowait, irq, softirq];
  if (all.some((v) => v === undefined || !Number.isFinite(v))) return null;
  const sum = (values: (number | undefined)[]): number =>
    values.reduce<number>((s, v) => s + (v ?? 0), 0);
  const busyTicks = sum([user, nice, system, irq, softirq]);
  const stealTicks = steal !== undefined && Number.isFinite(steal) ? steal : 0;
  return { busyTicks, stealTicks, totalTicks: busyTicks + sum([idle, iowait]) + stealTicks };
}

/** The `some` line's total of /proc/pressure/cpu, µs. */
export function parseCpuPressureUs(text: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith('some '));
  return numberOrNull(/total=(\d+)/.exec(line ?? '')?.[1]);
}

interface Sums {
  seconds: number;
  busyTicks: number;
  stealTicks: number;
  pressureUs: number;
  pressureSeen: boolean;
  roles: Map<string, RoleCounters>;
}

const emptySums = (): Sums => ({ seconds: 0, busyTicks: 0, stealTicks: 0, pressureUs: 0,
  pressureSeen: false, roles: new Map() });

/** Adds the counters' growth between two readings (never negative: a counter reset adds 0). */
function addInterval(sums: Sums, a: CpuSample, b: CpuSample): void {
  const grown = (from: number, to: number): number => Math.max(0, to - from);
  sums.seconds += (b.atMs - a.atMs) / 1000;
  sums.busyTicks += grown(a.box.busyTicks, b.box.busyTicks);
  sums.stealTicks += grown(a.box.stealTicks, b.box.stealTicks);
  if (a.box.pressureSomeUs !== null && b.box.pressureSomeUs !== null) {
    sums.pressureUs += grown(a.box.pressureSomeUs, b.box.pressureSomeUs);
    sums.pressureSeen = true;
  }
  for (const [key, to] of Object.entries(b.roles)) {
    const from = a.roles[key] ?? { cpuTicks: 0, waitNs: 0, mainWaitNs: 0 };
    const sum = sums.roles.get(key) ?? { cpuTicks: 0, waitNs: 0, mainWaitNs: 0 };
    sum.cpuTicks += grown(from.cpuTicks, to.cpuTicks);
    sum.waitNs += grown(from.waitNs, to.waitNs);
    sum.mainWaitNs += grown(from.mainWaitNs, to.mainWaitNs);
    sums.roles.set(key, sum);
  }
}

function toWindow(
  sums: Sums, fromSeconds: number, toSeconds: number, roles: readonly CpuRole[],
  ticksPerSecond: number,
): CpuWindow {
  const per = sums.seconds > 0 ? sums.seconds : Number.NaN;
  const cores = (ticks: number): number => ticks / ticksPerSecond / per;
  const figures: Record<string, RoleFigures> = {};
  let accounted = 0;
  for (const role of roles) {
    const sum = sums.roles.get(role.key) ?? { cpuTicks: 0, waitNs: 0, mainWaitNs: 0 };
    accounted += sum.cpuTicks;
    figures[role.key] = { cpuCores: cores(sum.cpuTicks), runWaitCores: sum.waitNs / 1e9 / per,
      mainThreadWaitCores: sum.mainWaitNs / 1e9 / per };
  }
  return {
    fromSeconds, toSeconds, coveredSeconds: sums.seconds,
    busyCores: cores(sums.busyTicks), stealCores: cores(sums.stealTicks),
    // Ticks of short-lived processes and of the readings' own second can make the roles'
    // sum pass the box's: the rest is then shown as 0, not as a negative share.
    restCores: Math.max(0, cores(sums.busyTicks - accounted)),
    pressureSomeShare: sums.pressureSeen ? sums.pressureUs / 1e6 / per : null,
    roles: figures,
  };
}

/**
 * The samples in windows of `windowSeconds` from on-sale (as the report's pacing windows),
 * and over the whole run. Each interval between two readings counts in the window of its
 * midpoint.
 */
export function cpuSplit(
  samples: readonly CpuSample[], onSaleAtMs: number,
  options: { windowSeconds: number; sampleEveryMs: number; ticksPerSecond: number;
    cores: number; roles: CpuRole[] },
): CpuSplit {
  const windows = new Map<number, Sums>();
  const whole = emptySums();
  for (let i = 1; i < samples.length; i += 1) {
    const a = samples[i - 1] as CpuSample;
    const b = samples[i] as CpuSample;
    const midSeconds = ((a.atMs + b.atMs) / 2 - onSaleAtMs) / 1000;
    const index = Math.floor(midSeconds / options.windowSeconds);
    const sums = windows.get(index) ?? emptySums();
    windows.set(index, sums);
    addInterval(sums, a, b);
    addInterval(whole, a, b);
  }
  const at = (sample: CpuSample | undefined): number =>
    sample === undefined ? 0 : (sample.atMs - onSaleAtMs) / 1000;
  return {
    ...options,
    whole: toWindow(whole, at(samples[0]), at(samples[samples.length - 1]), options.roles,
      options.ticksPerSecond),
    windows: [...windows.entries()].sort(([a], [b]) => a - b).map(([index, sums]) =>
      toWindow(sums, index * options.windowSeconds, (index + 1) * options.windowSeconds,
        options.roles, options.ticksPerSecond)),
  };
}

const cores2 = (value: number | null): string =>
  value === null || !Number.isFinite(value) ? '–' : value.toFixed(2);

/** A table: one row per window (the whole run first), one column per figure. */
function table(
  split: CpuSplit, columns: { label: string; value: (w: CpuWindow) => number | null }[],
  maxRows: number,
): string[] {
  const widths = columns.map((c) => Math.max(6, c.label.length));
  const row = (name: string, cells: string[]): string => `  ${name.padEnd(12)}` +
    cells.map((cell, i) => ` ${cell.padStart(widths[i] ?? 6)}`).join('');
  const rows = [row('s', columns.map((c) => c.label)),
    row('whole run', columns.map((c) => cores2(c.value(split.whole))))];
  for (const w of split.windows.slice(0, maxRows)) {
    rows.push(row(`${w.fromSeconds}–${w.toSeconds}`, columns.map((c) => cores2(c.value(w)))));
  }
  if (split.windows.length > maxRows) {
    rows.push(`  … ${split.windows.length - maxRows} more windows (report.json, cpuSplit)`);
  }
  return rows;
}

/**
 * The report's lines: CPU used per role, run delay per role (and of the event loops), in
 * cores, per window after on-sale.
 */
export function cpuLines(split: CpuSplit | undefined, maxRows = 60): string[] {
  if (split === undefined) return [];
  const role = (key: string, pick: (f: RoleFigures) => number) =>
    (w: CpuWindow): number | null => {
      const figures = w.roles[key];
      return figures === undefined ? null : pick(figures);
    };
  const head = `per ${split.windowSeconds} s window after on-sale, in cores (seconds per ` +
    `second; the box has ${split.cores}), read every ${split.sampleEveryMs / 1000} s`;
  return [
    `CPU used    ${head}: utime + stime of every thread; rest = the box's busy time no ` +
      'role accounts for (other work, the kernel)',
    ...table(split, [
      ...split.roles.map((r) => ({ label: r.label, value: role(r.key, (f) => f.cpuCores) })),
      { label: 'rest', value: (w) => w.restCores },
      { label: 'busy', value: (w) => w.busyCores },
      { label: 'steal', value: (w) => w.stealCores },
    ], maxRows),
    'run delay   runnable but waiting for a core (schedstat, summed over threads), cores; ' +
      'psi = share of the time some task on the box waited',
    ...table(split, [
      ...split.roles.map((r) => ({ label: r.label, value: role(r.key, (f) => f.runWaitCores) })),
      { label: 'psi', value: (w) => w.pressureSomeShare },
    ], maxRows),
    'event loop  run delay of the main thread alone (a Node process\'s event loop), cores',
    ...table(split, split.roles.filter((r) => r.eventLoop).map((r) =>
      ({ label: r.label, value: role(r.key, (f) => f.mainThreadWaitCores) })), maxRows),
  ];
}
