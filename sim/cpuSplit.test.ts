import { describe, expect, it } from 'vitest';
import {
  cpuLines, cpuSplit, parseBoxTicks, parseCpuPressureUs, parseProcessInfo, parseProcessTicks,
  parseReapedChildTicks, parseRunWaitNs, type CpuRole, type CpuSample,
} from './cpuSplit.js';

// Copied from a box running the rehearsal (fields trimmed where the parser ignores them).
const nodeStat = '4242 (node) S 4100 4242 4100 0 -1 4194560 52874 0 0 0 1234 567 0 0 20 0 ' +
  '11 0 987654 1300000000 60000 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1';
// A command name with a space and a parenthesis must not shift the fields.
const oddStat = '77 (we ird) x) R 1 77 77 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 42 0 0';
const procStat = 'cpu  49929 7 20158 61112 1899 3 2707 150 11 0\n' +
  'cpu0 24000 3 10000 30000 900 1 1300 70 5 0\nintr 1 2 3\nbtime 1795779505\n';
const pressure = 'some avg10=66.95 avg60=33.36 avg300=22.95 total=149503217\n' +
  'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n';

describe('/proc parsing', () => {
  it('reads utime + stime, the parent and the start of a process', () => {
    expect(parseProcessTicks(nodeStat)).toBe(1234 + 567);
    expect(parseProcessInfo(nodeStat)).toEqual({ ppid: 4100, startTicks: 987654 });
    expect(parseProcessTicks(oddStat)).toBe(15);
    expect(parseProcessInfo(oddStat)).toEqual({ ppid: 1, startTicks: 42 });
    expect(parseProcessTicks('')).toBeNull();
    expect(parseProcessTicks('12 (cut')).toBeNull();
  });

  it('reads the CPU of the children a process reaped (cutime + cstime)', () => {
    const postmaster = '900 (postgres) S 1 900 900 0 -1 4194560 52874 0 0 0 40 12 300 45 20 0 ' +
      '1 0 1000 200000000 6000 18446744073709551615';
    expect(parseReapedChildTicks(postmaster)).toBe(300 + 45);
    expect(parseProcessTicks(postmaster)).toBe(40 + 12);
    expect(parseReapedChildTicks(nodeStat)).toBe(0);
    expect(parseReapedChildTicks('12 (cut')).toBeNull();
  });

  it('reads the run delay of a thread (schedstat field 2)', () => {
    expect(parseRunWaitNs('2387328633 3753513211 13179\n')).toBe(3753513211);
    expect(parseRunWaitNs('')).toBeNull();
  });

  it('reads the box: busy without idle, iowait or guest; steal apart', () => {
    const box = parseBoxTicks(procStat);
    expect(box).toEqual({ busyTicks: 49929 + 7 + 20158 + 3 + 2707, stealTicks: 150,
      totalTicks: 49929 + 7 + 20158 + 3 + 2707 + 61112 + 1899 + 150 });
    expect(parseBoxTicks('intr 1 2\n')).toBeNull();
  });

  it('reads the CPU pressure total', () => {
    expect(parseCpuPressureUs(pressure)).toBe(149503217);
    expect(parseCpuPressureUs('')).toBeNull();
  });
});

const roles: CpuRole[] = [
  { key: 'crowd', label: 'crowd', eventLoop: true },
  { key: 'pg store', label: 'pg store', eventLoop: false },
];

/** A reading at `s` seconds (epoch 1,000 s = on-sale) with cumulative counters. */
const sample = (s: number, busy: number, crowd: [number, number, number],
  pgStore: [number, number] | null, pressureUs: number | null = s * 500_000): CpuSample => ({
  atMs: 1_000_000 + s * 1000,
  box: { busyTicks: busy, stealTicks: s, totalTicks: s * 200, pressureSomeUs: pressureUs },
  roles: {
    crowd: { cpuTicks: crowd[0], waitNs: crowd[1], mainWaitNs: crowd[2] },
    ...(pgStore === null ? {} : { 'pg store': { cpuTicks: pgStore[0], waitNs: pgStore[1],
      mainWaitNs: pgStore[1] } }),
  },
});

const options = { windowSeconds: 30, sampleEveryMs: 1000, ticksPerSecond: 100, cores: 2, roles };

describe('cpuSplit', () => {
  it('puts each interval in the window of its midpoint, in cores', () => {
    const samples = [
      sample(-2, 0, [0, 0, 0], null),
      // Midpoint −1 s: the window before on-sale.
      sample(0, 300, [100, 1e9, 5e8], null),
      // Midpoints 14.5 and 29.5 s: the first window, 29 s of it.
      sample(29, 3_200, [1_550, 30e9, 10e8], [580, 2.9e9]),
      sample(30, 3_300, [1_600, 31e9, 10e8], [600, 3e9]),
      // Midpoint 45 s: the second window.
      sample(60, 9_300, [1_600, 31e9, 10e8], [3_600, 33e9]),
    ];
    const split = cpuSplit(samples, 1_000_000, options);
    expect(split.windows.map((w) => [w.fromSeconds, w.toSeconds, w.coveredSeconds]))
      .toEqual([[-30, 0, 2], [0, 30, 30], [30, 60, 30]]);
    const [before, first, second] = split.windows;
    expect(before?.roles.crowd).toEqual({ cpuCores: 0.5, runWaitCores: 0.5,
      mainThreadWaitCores: 0.25 });
    expect(before?.busyCores).toBe(1.5);
    // A role first read mid-window counts from zero (a session opened during the run).
    expect(first?.roles['pg store']?.cpuCores).toBeCloseTo(0.2, 10);
    expect(first?.roles.crowd?.cpuCores).toBe(0.5);
    expect(first?.roles.crowd?.runWaitCores).toBe(1);
    expect(first?.busyCores).toBe(1);
    expect(first?.restCores).toBeCloseTo(1 - 0.5 - 0.2, 10);
    expect(first?.stealCores).toBeCloseTo(0.01, 10);
    expect(first?.pressureSomeShare).toBe(0.5);
    expect(second?.roles.crowd).toEqual({ cpuCores: 0, runWaitCores: 0,
      mainThreadWaitCores: 0 });
    expect(second?.roles['pg store']?.runWaitCores).toBe(1);
    expect(second?.restCores).toBe(1);
    expect(split.whole).toMatchObject({ fromSeconds: -2, toSeconds: 60, coveredSeconds: 62 });
    expect(split.whole.busyCores).toBe(93 / 62);
  });

  it('never counts a counter that went back, nor a negative rest', () => {
    const split = cpuSplit([
      sample(0, 1_000, [500, 5e9, 0], null),
      sample(1, 1_010, [100, 1e9, 0], null),
      sample(2, 1_020, [200, 1e9, 0], null),
    ], 1_000_000, options);
    expect(split.windows[0]?.roles.crowd?.cpuCores).toBe(0.5);
    expect(split.windows[0]?.restCores).toBe(0);
  });

  it('leaves the pressure out where the box has no PSI', () => {
    const split = cpuSplit([sample(0, 0, [0, 0, 0], null, null),
      sample(1, 10, [0, 0, 0], null, null)], 1_000_000, options);
    expect(split.whole.pressureSomeShare).toBeNull();
    expect(cpuLines(split).join('\n')).toContain('–');
  });

  it('renders a table per figure, the whole run first', () => {
    const split = cpuSplit([sample(0, 0, [0, 0, 0], [0, 0]), sample(30, 3_000, [1_500, 15e9,
      3e9], [600, 3e9])], 1_000_000, options);
    const lines = cpuLines(split);
    expect(lines.filter((l) => l.trimStart().startsWith('whole run'))).toHaveLength(3);
    expect(lines.find((l) => l.includes('0–30') && l.includes('0.50') && l.includes('0.20')))
      .toBeDefined();
    // The event loop table has the crowd, not PostgreSQL's sessions.
    const loop = lines.slice(lines.findIndex((l) => l.startsWith('event loop')));
    expect(loop[1]).toContain('crowd');
    expect(loop[1]).not.toContain('pg store');
    expect(cpuLines(undefined)).toEqual([]);
  });
});
