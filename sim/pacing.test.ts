/** The store pacing series: whether pacing acted, when, and how the store's holds fared. */
import { describe, expect, it } from 'vitest';
import type { TimelinePoint } from './metrics.js';
import { pacingLines, pacingWindows } from './pacing.js';
import { renderHtml, renderText, type SimReport } from './report.js';

/** A point `seconds` after on-sale (on-sale at 10 s of run time). */
function point(seconds: number, over: Partial<TimelinePoint> = {}): TimelinePoint {
  return { tMs: 10_000 + seconds * 1000, sold: 0, held: 0, available: 100, waiting: 0,
    admitted: 0, holdsOk: 0, holdConflicts: 0, holdsBusy: 0, storePaceFactor: 1,
    storeWaitMs: null, serverHold: null, ...over };
}

const paced: TimelinePoint[] = [
  point(0, { serverHold: { count: 10, p50Ms: 5, p99Ms: 25 } }),
  point(10, { storePaceFactor: 0.5, storeWaitMs: 3_000, holdsBusy: 4,
    serverHold: { count: 50, p50Ms: 500, p99Ms: 5_000 } }),
  point(20, { storePaceFactor: 0.2, storeWaitMs: 6_000, holdsBusy: 10,
    serverHold: { count: 40, p50Ms: 1_000, p99Ms: Infinity } }),
  point(40, { storePaceFactor: 0.6, holdsBusy: 10,
    serverHold: { count: 30, p50Ms: 10, p99Ms: 100 } }),
  point(70, { storePaceFactor: 1, holdsBusy: 10,
    serverHold: { count: 20, p50Ms: 5, p99Ms: 50 } }),
];

describe('pacing windows', () => {
  it('give the lowest factor, longest wait, refusals and worst server p99 per window', () => {
    const windows = pacingWindows(paced, 10_000, 30);
    expect(windows).toEqual([
      { fromSeconds: 0, toSeconds: 30, minFactor: 0.2, maxStoreWaitMs: 6_000, busyRefusals: 10,
        serverHolds: 100, serverHoldP99Ms: Infinity },
      { fromSeconds: 30, toSeconds: 60, minFactor: 0.6, maxStoreWaitMs: null, busyRefusals: 0,
        serverHolds: 30, serverHoldP99Ms: 100 },
      { fromSeconds: 60, toSeconds: 90, minFactor: 1, maxStoreWaitMs: null, busyRefusals: 0,
        serverHolds: 20, serverHoldP99Ms: 50 },
    ]);
  });

  it('count refusals per interval from the running total, and keep points before on-sale', () => {
    const windows = pacingWindows([point(-5, { holdsBusy: 2 }), point(5, { holdsBusy: 7 })],
      10_000, 30);
    expect(windows.map((w) => [w.fromSeconds, w.busyRefusals])).toEqual([[-30, 2], [0, 5]]);
  });
});

describe('pacing lines', () => {
  it('say when pacing acted, how low it went, and the server p99 while paced and not', () => {
    const lines = pacingLines(paced, 10_000);
    expect(lines[0]).toContain('factor below 100 % in 3 of 5 samples, first 10 s, last 40 s');
    expect(lines[0]).toContain('lowest 20 % at 20 s');
    expect(lines[0]).toContain('store wait reported up to 6000 ms');
    // No live figures in these points: nothing said about them.
    expect(lines[0]).not.toContain('live shoppers');
    expect(lines[1]).toContain('10 hold replies refused as busy');
    expect(lines[2]).toContain('overall beyond 10 s at 20 s (40 holds)');
    expect(lines[2]).toContain('while paced beyond 10 s at 20 s');
    expect(lines[2]).toContain('otherwise ≤ 50 ms at 70 s (20 holds)');
    // The windows table lists only windows that paced or refused: 0–30 and 30–60.
    expect(lines.filter((line) => /^ {2}\d+–\d+/.test(line))).toHaveLength(2);
  });

  it('give the live shoppers and the live cap while paced, when the stats report them', () => {
    const withLive = [
      point(0, { activeShoppers: 9_000, liveCap: 9_000 }),
      point(10, { storePaceFactor: 0.5, activeShoppers: 8_000, liveCap: 4_500 }),
      point(20, { storePaceFactor: 0.1, activeShoppers: 6_000, liveCap: 900 }),
      point(30, { storePaceFactor: 1, activeShoppers: 1_200, liveCap: 9_000 }),
    ];
    expect(pacingLines(withLive, 10_000)[0])
      .toContain('while paced, live shoppers up to 8000, live cap down to 900');
  });

  it('say plainly when pacing never acted, and when nothing was reported or scraped', () => {
    const calm = pacingLines([point(0), point(1)], 10_000);
    expect(calm[0]).toContain('never acted');
    expect(calm[2]).toContain('not scraped');
    expect(calm).toHaveLength(3);
    const noQueue = pacingLines([point(0, { storePaceFactor: null })], 10_000);
    expect(noQueue[0]).toContain('not reported');
  });
});

describe('the report', () => {
  const report = {
    options: { seed: 1, customers: 10 }, target: 'x', eventId: 'e', capacity: 100,
    startedAt: '2026-11-26T00:00:00.000Z', durationMs: 90_000, stoppedBy: 'sold out', sold: 0,
    held: 0, soldOutAtMs: null, onSaleAtMs: 10_000, counters: {}, steps: [],
    timeline: paced,
    fairness: { joinVsNumberTau: null, postOnSaleJoiners: 0, preQueueTau: null,
      preQueueJoiners: 0 },
    eta: { samples: 0, medianErrorSeconds: null, medianRelativeError: null, shownNoTime: 0,
      overTime: [], points: [] },
    endOfSale: { lastSaleSeconds: null, lastResolvedSeconds: null,
      lastSaleToLastResolvedSeconds: null, unresolved: 0, toldSoldOut: 0, movedToWaitlist: 0,
      leftLine: 0, freed: null },
    refusals: { holdsOk: 0, insufficientInventory: 0, seatsTaken: 0, perSuccessfulHold: null },
    audit: null,
  } as unknown as SimReport;

  it('has the pacing lines in the text and the three series as charts in the page', () => {
    expect(renderText(report)).toContain('pacing      factor below 100 %');
    const html = renderHtml(report);
    expect(html).toContain('Store pacing: the pace factor');
    expect(html).toContain('Holds refused as busy per second');
    expect(html).toContain('Server-side hold latency per interval');
    // The pace factor chart has a point per sample (five), as 0–100 %.
    const pacing = /Store pacing[\s\S]*?<\/figure>/.exec(html)?.[0] ?? '';
    const factorPath = /<path d="([^"]*)" fill="none" stroke="#36c"/.exec(pacing)?.[1] ?? '';
    expect(factorPath.split(/[ML]/).filter(Boolean)).toHaveLength(5);
  });
});
