/**
 * The ETA estimator (pace.ts), against a model line whose true admission times are known:
 * ticks admit within the rate and the free slots, shoppers stay a fixed time, fans arrive
 * at a steady rate. Each fan is told an ETA when they join (between ticks, as a join reply
 * is) and the error is measured against the tick that admits them, as the simulator does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { etaFor, nextPace, sustainedPerSecond, type Pace } from './pace.js';
import { etaSeconds } from './room.js';

interface Model {
  ratePerMinute: number;
  maxActive: number;
  /** Mean seconds a shopper keeps the slot (spread uniformly over ± half of it). */
  shopSeconds: number;
  arrivalsPerSecond: number;
  /** Fans arrive for this long (default: the whole run). */
  arrivalSeconds?: number;
  seconds: number;
  passSeconds: number;
}

interface Told {
  fan: number; atMs: number; eta: number | null; legacy: number | null; naive: number | null;
  /** The previous estimate (for a control): turnover over a full store, pass-expiry floor. */
  passFloor: number | null;
}

/** The estimate before the room's sizing was the prior (kept for the control). */
function passFloorEta(position: number, pace: Pace, elapsedMs: number): number | null {
  const constrained = pace.regime === 'slots' || pace.constrainedPerSecond !== null;
  if (constrained || pace.regime === 'inventory') return etaFor(position, pace, elapsedMs);
  const turnover = pace.live > 0 ? (pace.freedPerSecond * pace.maxActive) / pace.live : 0;
  const floor = pace.maxActive / pace.passSeconds;
  // Feed that throughput in as if measured: etaFor then goes at it past the headroom.
  const sustained = Math.min(pace.ratePerSecond, Math.max(floor, turnover));
  return etaFor(position, { ...pace, constrainedPerSecond: sustained }, elapsedMs);
}

/**
 * Runs the model line with 1 s ticks; returns, per fan, the ETA they were told at join
 * (from the pace, and from the legacy minute rate) and when their number came up.
 */
function runModel(model: Model): { told: Told[]; admittedAtMs: Map<number, number> } {
  const tickMs = 1_000;
  const admittedAtMs = new Map<number, number>();
  const frees: number[] = []; // when each live slot frees, ms
  const admissions: number[] = []; // admission times, for the legacy minute rate
  let pace: Pace | undefined;
  let legacyRatePerMinute = 0;
  let credit = 0;
  let served = 0;
  let joined = 0;
  let lastTickMs = 0;
  const told: Told[] = [];
  let seed = 7;
  const spread = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return 0.5 + seed / 2_147_483_648;
  };
  for (let nowMs = 0; nowMs <= model.seconds * 1000; nowMs += 50) {
    // Fans arrive every 50 ms slice; each is told an ETA from the last tick's pace.
    const arriving = Math.min(nowMs / 1000, model.arrivalSeconds ?? Infinity);
    const due = Math.floor(arriving * model.arrivalsPerSecond);
    while (joined < due) {
      joined++;
      const position = joined - served;
      told.push({
        fan: joined, atMs: nowMs,
        eta: pace === undefined ? null : etaFor(position, pace, nowMs - lastTickMs),
        legacy: etaSeconds(position, legacyRatePerMinute),
        naive: etaSeconds(position, model.ratePerMinute),
        passFloor: pace === undefined ? null : passFloorEta(position, pace, nowMs - lastTickMs),
      });
    }
    if (nowMs % tickMs !== 0 || nowMs === 0) continue;
    // A tick: free lapsed slots, accrue credit, admit within rate and slots.
    const liveBefore = frees.filter((t) => t > nowMs).length;
    frees.splice(0, frees.length, ...frees.filter((t) => t > nowMs));
    credit = Math.min(credit + model.ratePerMinute / 60, Math.max(1, model.ratePerMinute / 30));
    const byRate = Math.floor(credit + 1e-9);
    const bySlots = model.maxActive - liveBefore;
    const budget = Math.min(byRate, bySlots);
    const admitted = Math.max(0, Math.min(budget, joined - served));
    for (let i = 0; i < admitted; i++) {
      served++;
      admittedAtMs.set(served, nowMs);
      frees.push(nowMs + model.shopSeconds * 1000 * spread());
      admissions.push(nowMs);
    }
    credit -= admitted;
    const lastMinute = admissions.filter((t) => t > nowMs - 60_000).length;
    const first = admissions[0];
    legacyRatePerMinute = first === undefined ? 0
      : (lastMinute * 60_000) / Math.min(60_000, Math.max(1_000, nowMs - first));
    pace = nextPace(pace, {
      atMs: nowMs, tickMs, admitPerMinute: model.ratePerMinute, maxActive: model.maxActive,
      passSeconds: model.passSeconds, liveBefore, admitted, byRate, bySlots,
      byInventory: Number.MAX_SAFE_INTEGER, drained: admitted < budget,
    });
    lastTickMs = nowMs;
  }
  return { told, admittedAtMs };
}

/**
 * Median of |told − actual| / max(1 s, actual) over fans who were told a time and admitted,
 * told within [fromS, toS) seconds.
 */
function medianError(
  run: ReturnType<typeof runModel>, pick: (t: Told) => number | null, fromS = 0, toS = Infinity,
): number {
  const errors: number[] = [];
  for (const t of run.told) {
    if (t.atMs < fromS * 1000 || t.atMs >= toS * 1000) continue;
    const at = run.admittedAtMs.get(t.fan);
    const eta = pick(t);
    if (at === undefined || eta === null) continue;
    const actual = (at - t.atMs) / 1000;
    errors.push(Math.abs(eta - actual) / Math.max(1, actual));
  }
  expect(errors.length).toBeGreaterThan(20);
  errors.sort((a, b) => a - b);
  return errors[Math.floor(errors.length / 2)] as number;
}

const basePace: Pace = {
  regime: 'rate', ratePerSecond: 100, headroom: 10_000, constrainedPerSecond: null,
  freedPerSecond: 0, live: 0, maxActive: 10_000, passSeconds: 600, tickMs: 1_000, atMs: 0,
};

describe('the ETA estimator', () => {
  it('counts in ticks while the rate is the limit: admission happens on a tick', () => {
    // 100 per 1 s tick: the first hundred are admitted on the next tick.
    expect(etaFor(1, basePace, 0)).toBe(1);
    expect(etaFor(100, basePace, 0)).toBe(1);
    expect(etaFor(101, basePace, 0)).toBe(2);
    expect(etaFor(250, basePace, 0)).toBe(3);
    // Told 600 ms after the tick: the next tick is 400 ms away (shown as a whole second).
    expect(etaFor(250, basePace, 600)).toBe(2);
    expect(etaFor(0, basePace, 0)).toBe(0);
  });

  it('adds the lag from a tick to its broadcast: that is when a fan hears', () => {
    const lagging: Pace = { ...basePace, lagMs: 800 };
    // Heard on the stream 800 ms after the tick: the next tick's news is a second away.
    expect(etaFor(100, lagging, 800)).toBe(1);
    // A join reply right at the tick: the next tick plus its lag, 1.8 s.
    expect(etaFor(100, lagging, 0)).toBe(2);
    let pace = nextPace(undefined, {
      atMs: 0, tickMs: 1_000, admitPerMinute: 6_000, maxActive: 100, passSeconds: 600,
      liveBefore: 0, admitted: 0, byRate: 100, bySlots: 100, byInventory: 100, drained: true,
    });
    expect(pace.lagMs).toBeUndefined();
    for (let t = 1; t <= 20; t++) {
      pace = nextPace(pace, {
        atMs: t * 1_000, tickMs: 1_000, admitPerMinute: 6_000, maxActive: 100,
        passSeconds: 600, liveBefore: 0, admitted: 0, byRate: 100, bySlots: 100,
        byInventory: 100, drained: true, lagMs: 400,
      });
    }
    expect(pace.lagMs).toBeCloseTo(400, 0);
  });

  it('past the headroom, goes at the sustained throughput (slot turnover, inventory)', () => {
    const slots: Pace = {
      ...basePace, regime: 'slots', headroom: 0, constrainedPerSecond: 10, maxActive: 1_000,
    };
    expect(sustainedPerSecond(slots)).toBe(10);
    expect(etaFor(50, slots, 0)).toBe(5);
    // 100 free slots at 100/s while 10/s more free up: 111 fans at the rate, then 10/s.
    const mixed: Pace = { ...slots, regime: 'rate', headroom: 100 };
    expect(etaFor(211, mixed, 0)).toBe(12);
    // Never faster than the rate, never slower than passes expiring allow.
    expect(sustainedPerSecond({ ...slots, constrainedPerSecond: 500 })).toBe(100);
    expect(sustainedPerSecond({ ...slots, constrainedPerSecond: 0, maxActive: 600 })).toBe(1);
  });

  it('before the store has ever been full, goes at the rate: the room\'s sizing is the prior', () => {
    // 100 shoppers in, 2 finished a second so far: the quick ones. Little's law over a full
    // store would say 8/s, but nothing shows that shoppers stay longer than 400 / 100 = 4 s.
    const ramp: Pace = {
      ...basePace, headroom: 300, freedPerSecond: 2, live: 100, maxActive: 400, passSeconds: 120,
    };
    expect(sustainedPerSecond(ramp)).toBe(100);
    // So the fan 1,000 places back is 10 ticks away, not 300 at the rate then 700 at
    // 400 / 120 s a second (the pass-expiry floor).
    expect(etaFor(1_000, ramp, 0)).toBe(10);
    // Once a tick was held back by the slots, the measured rate replaces the prior.
    const full: Pace = { ...ramp, regime: 'slots', headroom: 0, constrainedPerSecond: 20 };
    expect(sustainedPerSecond(full)).toBe(20);
    expect(etaFor(1_000, full, 0)).toBe(50);
  });

  it('keeps the throughput within what the limits allow, and later fans never sooner', () => {
    fc.assert(fc.property(
      fc.record({
        regime: fc.constantFrom<Pace['regime']>('rate', 'slots', 'inventory', 'drained'),
        ratePerSecond: fc.double({ min: 0.1, max: 500, noNaN: true }),
        headroom: fc.integer({ min: 0, max: 5_000 }),
        constrainedPerSecond: fc.option(fc.double({ min: 0, max: 1_000, noNaN: true })),
        maxActive: fc.integer({ min: 1, max: 10_000 }),
        passSeconds: fc.integer({ min: 30, max: 7_200 }),
        tickMs: fc.integer({ min: 50, max: 5_000 }),
        position: fc.integer({ min: 1, max: 50_000 }),
      }),
      (p) => {
        const pace: Pace = { ...basePace, ...p, freedPerSecond: 0, live: 0, atMs: 0 };
        const sustained = sustainedPerSecond(pace);
        // Never faster than the rate admits.
        expect(sustained).toBeLessThanOrEqual(pace.ratePerSecond + 1e-9);
        if (pace.regime !== 'inventory' && pace.constrainedPerSecond !== null) {
          // A full store turns over at least as every pass ends (or the rate, if lower).
          expect(sustained).toBeGreaterThanOrEqual(
            Math.min(pace.ratePerSecond, pace.maxActive / pace.passSeconds) - 1e-9);
        }
        const here = etaFor(p.position, pace, 0);
        const behind = etaFor(p.position + 1, pace, 0);
        if (here !== null && behind !== null) expect(behind).toBeGreaterThanOrEqual(here);
        // Nobody waits less than the ticks the rate alone takes to reach them.
        if (here !== null) {
          const ticks = Math.ceil(p.position / pace.ratePerSecond / (pace.tickMs / 1000) - 1e-9);
          expect(here).toBeGreaterThanOrEqual(
            Math.max(1, Math.round(ticks * pace.tickMs / 1000)) - 1);
        }
      },
    ), { numRuns: 300, seed: 5 });
  });

  it('measures the regime and smooths the constrained throughput', () => {
    let pace = nextPace(undefined, {
      atMs: 0, tickMs: 1_000, admitPerMinute: 6_000, maxActive: 100, passSeconds: 600,
      liveBefore: 0, admitted: 100, byRate: 100, bySlots: 100, byInventory: 1_000,
      drained: false,
    });
    expect(pace.regime).toBe('slots');
    for (let t = 1; t <= 60; t++) {
      // Full store: five shoppers finish a second, five are admitted.
      pace = nextPace(pace, {
        atMs: t * 1_000, tickMs: 1_000, admitPerMinute: 6_000, maxActive: 100,
        passSeconds: 600, liveBefore: 95, admitted: 5, byRate: 100, bySlots: 5,
        byInventory: 1_000, drained: false,
      });
    }
    expect(pace.regime).toBe('slots');
    expect(pace.constrainedPerSecond).toBeCloseTo(5, 1);
    expect(pace.freedPerSecond).toBeCloseTo(5, 0);
    expect(pace.tickMs).toBeCloseTo(1_000, 0);
    expect(etaFor(50, pace, 0)).toBe(10);
  });

  it('follows a line from rate-bound to slot-bound', () => {
    // 50/s fills 200 slots in 4 s; then shoppers (20 s each on average) free 10/s.
    const run = runModel({
      ratePerMinute: 3_000, maxActive: 200, shopSeconds: 20, arrivalsPerSecond: 20,
      seconds: 120, passSeconds: 120,
    });
    expect(medianError(run, (t) => t.eta, 10)).toBeLessThanOrEqual(0.2);
    // The control: the configured rate alone promises the opening burst's pace for good.
    expect(medianError(run, (t) => t.naive, 10)).toBeGreaterThan(0.2);
  });

  it('tells fans who join before anyone has finished shopping the line they get', () => {
    // The opening burst: 2,500 fans in the first 2.5 s, before the first shopper can be
    // done. 50/s into 1,000 slots, shoppers stay 5–15 s: at most ~500 are in at once, the
    // store never fills, and the line goes at the rate all along (fan n in at ≈ n / 50 s).
    const run = runModel({
      ratePerMinute: 3_000, maxActive: 1_000, shopSeconds: 10, arrivalsPerSecond: 1_000,
      arrivalSeconds: 2.5, seconds: 80, passSeconds: 120,
    });
    expect(medianError(run, (t) => t.eta)).toBeLessThanOrEqual(0.2);
    // The fans past the first free slots were the ones told wrong before; so they are here.
    expect(medianError(run, (t) => (t.fan > 1_250 ? t.eta : null))).toBeLessThanOrEqual(0.2);
    // The control: the previous estimate, turnover scaled to a full store and never below
    // maxActive / passSeconds, tells those fans 2–3× their wait.
    expect(medianError(run, (t) => (t.fan > 1_250 ? t.passFloor : null))).toBeGreaterThan(0.5);
  });

  it('once the store fills (shoppers stay longer than the room was sized for), follows it', () => {
    // 50/s into 200 slots, shoppers stay ~20 s: full after 4 s, then 10/s. Fans told before
    // it fills were promised the rate (nothing could show otherwise yet); fans told from
    // the time the first shoppers' trips ran their course are told the line they get.
    const run = runModel({
      ratePerMinute: 3_000, maxActive: 200, shopSeconds: 20, arrivalsPerSecond: 30,
      arrivalSeconds: 60, seconds: 240, passSeconds: 120,
    });
    expect(medianError(run, (t) => t.eta, 25)).toBeLessThanOrEqual(0.2);
  });

  it('is within 20 % (median) over random lines that queue, once they run steadily', () => {
    fc.assert(fc.property(
      fc.record({
        ratePerMinute: fc.integer({ min: 600, max: 12_000 }),
        maxActive: fc.integer({ min: 50, max: 1_000 }),
        shopSeconds: fc.integer({ min: 5, max: 60 }),
        // Arrivals outpace the line by this factor (a line with no queue has no wait but
        // the tick, which a whole-second ETA cannot resolve).
        overload: fc.double({ min: 1.3, max: 4, noNaN: true }),
      }),
      ({ overload, ...m }) => {
        const throughput = Math.min(m.ratePerMinute / 60, m.maxActive / m.shopSeconds);
        // Steady: after the slots first filled and the first shoppers' trips ran their
        // course (while they do, the turnover is still rising and nobody can know it).
        const steadyS = m.maxActive / (m.ratePerMinute / 60) + 2 * m.shopSeconds;
        // Fans arrive until a minute into the steady state; the run lasts until they are in.
        const arrivalSeconds = steadyS + 60;
        const run = runModel({
          ...m, arrivalsPerSecond: throughput * overload, arrivalSeconds, passSeconds: 120,
          seconds: arrivalSeconds * overload * 1.5,
        });
        expect(medianError(run, (t) => t.eta, steadyS)).toBeLessThanOrEqual(0.2);
      },
    ), { numRuns: 25, seed: 13 });
  });
});
