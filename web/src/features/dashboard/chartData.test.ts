import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendSample, linePath, niceCeil, seedSamples, timeDomain, timeTicks, type Sample,
  type StatsLike,
} from './chartData';

function stats(over: { asOf: string; admitted?: number; sold?: number; revenue?: number;
  points?: StatsLike['series']['points'] }): StatsLike {
  return {
    asOf: over.asOf,
    queue: { preQueue: 10, waiting: 90, admitted: over.admitted ?? 0, admissionsPerMinute: 120 },
    tickets: { held: 4, sold: over.sold ?? 0 },
    activeHolds: 2,
    revenueCents: over.revenue ?? 0,
    holdLatency: { latencyMsP99: 42 },
    series: { stepSeconds: 10, points: over.points ?? [] },
  };
}

describe('dashboard chart data', () => {
  it('derives per-second rates from successive polls, whatever their spacing', () => {
    let samples: Sample[] = [];
    samples = appendSample(samples, stats({ asOf: '2030-01-01T00:00:00.000Z', admitted: 100 }));
    expect(samples[0]?.admissionsPerSecond).toBe(2); // the server's measured rate at first
    // `waiting` already counts the pre-queue: the line is 90 long, not 100.
    expect(samples[0]?.queueLength).toBe(90);
    samples = appendSample(samples, stats({ asOf: '2030-01-01T00:00:02.000Z', admitted: 130 }));
    expect(samples[1]?.admissionsPerSecond).toBe(15);
    // A late reply (older than the last sample) changes nothing.
    samples = appendSample(samples, stats({ asOf: '2030-01-01T00:00:01.000Z', admitted: 500 }));
    expect(samples).toHaveLength(2);
  });

  it('keeps a bounded number of samples', () => {
    let samples: Sample[] = [];
    for (let i = 0; i < 10; i += 1) {
      samples = appendSample(samples, stats({ asOf: new Date(Date.UTC(2030, 0, 1, 0, 0, i))
        .toISOString() }), 4);
    }
    expect(samples.map((s) => new Date(s.atMs).getUTCSeconds())).toEqual([6, 7, 8, 9]);
  });

  it('rebuilds history from the server series, ending at the current totals', () => {
    const seeded = seedSamples(stats({
      asOf: '2030-01-01T00:00:25.000Z', sold: 10, revenue: 1_000, admitted: 50,
      points: [
        { at: '2030-01-01T00:00:00.000Z', ticketsSold: 3, revenueCents: 300, admitted: 20,
          queueLength: 400, activeHolds: 7, holdLatencyMsP99: 12 },
        { at: '2030-01-01T00:00:10.000Z', ticketsSold: 2, revenueCents: 200, admitted: 10,
          queueLength: 350, activeHolds: 5, holdLatencyMsP99: null },
        { at: '2030-01-01T00:00:20.000Z', ticketsSold: 1, revenueCents: 100, admitted: 0,
          queueLength: 300, activeHolds: 2, holdLatencyMsP99: 30 },
      ],
    }));
    // The window still running (ends at :30) is left to the live polls.
    expect(seeded.map((s) => [new Date(s.atMs).getUTCSeconds(), s.sold, s.revenueCents,
      s.admitted, s.admissionsPerSecond, s.holdLatencyMsP99])).toEqual([
      [10, 7, 700, 40, 2, 12],
      [20, 9, 900, 50, 1, null],
    ]);
    // The line and the live holds are the server's figures at each window's end.
    expect(seeded.map((s) => [s.queueLength, s.activeHolds])).toEqual([[400, 7], [350, 5]]);
  });

  it('puts time ticks on round clock times across the shared domain', () => {
    const fromMs = Date.UTC(2030, 0, 1, 0, 0, 5);
    const domain = { fromMs, toMs: fromMs + 120_000 };
    const ticks = timeTicks(domain);
    expect(ticks.map((t) => new Date(t.atMs).toISOString().slice(11, 19)))
      .toEqual(['00:00:30', '00:01:00', '00:01:30', '00:02:00']);
    expect(ticks[0]?.at).toBeCloseTo(25 / 120);
    expect(timeTicks({ fromMs, toMs: fromMs + 20_000 }).map((t) => t.atMs - fromMs))
      .toEqual([5_000, 15_000]);
  });

  it('labels any span from 2 s up to (not including) 90 min with two to three round clock times', () => {
    // A chart opened seconds after the server started has a short history: a 6.5 s span
    // once got a single label at 5 s steps. Every span gets at least two, on round times.
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2_000_000_000 }), fc.integer({ min: 2_000, max: 5_399_999 }),
      (fromMs, spanMs) => {
        const ticks = timeTicks({ fromMs, toMs: fromMs + spanMs }, 3);
        expect(ticks.length).toBeGreaterThanOrEqual(2);
        expect(ticks.length).toBeLessThanOrEqual(3);
        const step = (ticks[1]?.atMs ?? 0) - (ticks[0]?.atMs ?? 0);
        for (const tick of ticks) {
          expect(tick.atMs % step).toBe(0);
          expect(tick.at).toBeGreaterThanOrEqual(0);
          expect(tick.at).toBeLessThanOrEqual(1);
        }
      }), { numRuns: 2_000 });
    // Beyond 90 min the widest step (30 min) is kept, with more labels than asked.
    expect(timeTicks({ fromMs: 0, toMs: 3 * 3_600_000 }, 3)).toHaveLength(7);
  });

  it('places every chart on the same time axis', () => {
    const at = (s: number) => Date.UTC(2030, 0, 1, 0, 0, s);
    const base = { queueLength: 0, admitted: 0, admissionsPerSecond: 0, activeHolds: 0,
      sold: 0, revenueCents: 0 };
    const samples: Sample[] = [
      { ...base, atMs: at(0), holdLatencyMsP99: null },
      { ...base, atMs: at(5), holdLatencyMsP99: 10 },
      { ...base, atMs: at(10), holdLatencyMsP99: 20 },
    ];
    const domain = timeDomain(samples);
    expect(domain).toEqual({ fromMs: at(0), toMs: at(10) });
    // Latency starts later than the others: it starts mid-chart, not at the left edge.
    expect(linePath(samples, 'holdLatencyMsP99', 100, 10, domain).path)
      .toBe('M50.0,5.0 L100.0,0.0');
  });

  it('rounds axes up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 1, 3, 7, 11, 240, 999].map(niceCeil))
      .toEqual([1, 0.5, 1, 5, 10, 20, 500, 1000]);
  });

  it('draws a path through the points that have values', () => {
    const base = { queueLength: 0, admitted: 0, admissionsPerSecond: 0, activeHolds: 0,
      revenueCents: 0, holdLatencyMsP99: null };
    const samples: Sample[] = [
      { ...base, atMs: 0, sold: Number.NaN },
      { ...base, atMs: 1_000, sold: 0 },
      { ...base, atMs: 3_000, sold: 4 },
    ];
    const line = linePath(samples, 'sold', 100, 50);
    expect(line).toEqual({ path: 'M0.0,50.0 L100.0,10.0', yMax: 5, latest: 4 });
    expect(linePath(samples, 'holdLatencyMsP99', 100, 50)).toEqual({ path: '', yMax: 1,
      latest: null });
  });
});
