/**
 * The CI smoke run: a few thousand customers against an embedded server started by the
 * simulator, through the waiting room, holds, payments and cancellations, then the
 * invariant audit from the database. A violation, a 5xx or a sale that stops selling fails.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOptions, parseOptions } from './options.js';
import { simulate, writeReport } from './run.js';

const reportDir = mkdtempSync(path.join(tmpdir(), 'stampede-sim-test-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('flash-sale simulation (embedded smoke run)', () => {
  it('sells through the queue with a clean audit', async () => {
    const options = {
      ...defaultOptions,
      // Three fans per ticket; the pre-queue opens 5 s ahead so that on a loaded machine
      // (joins taking seconds) it still fills.
      customers: 1_200, seats: 300, standing: 100, seed: 20261123,
      admitPerMinute: 30_000, maxActiveShoppers: 300, holdSeconds: 10, thinkMs: 50,
      preOnSaleSeconds: 5, burstSeconds: 2, maxSeconds: 180, progress: false,
      reportDir,
    };
    // Embedded backends only, whatever the environment says.
    const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', SIM_LOG_LEVEL: 'error' };
    const report = await simulate(options, env, () => undefined);
    const text = writeReport(report, reportDir);

    expect(report.audit, text).not.toBeNull();
    for (const check of report.audit?.checks ?? []) expect(check.ok, check.name).toBe(true);
    expect(report.steps.every((step) => step.errors === 0), text).toBe(true);
    expect(report.counters.joined).toBe(1_200);
    // The sale ends, not the clock: it sells out (or every fan is done) before the time limit,
    // and every fan is resolved (bought, declined, left, told sold out, on the waitlist).
    expect(report.stoppedBy, text).not.toBe('time_limit');
    expect(report.endOfSale.unresolved, text).toBe(0);
    expect(report.sold, text).toBeGreaterThanOrEqual(390);
    expect(report.counters.client_errors ?? 0).toBe(0);
    // The pacing series were sampled: the line's store factor, and the store node's own
    // hold latency between samples (its /metrics), with every hold the crowd got counted.
    expect(report.timeline.every((p) => p.storePaceFactor !== null), text).toBe(true);
    const serverHolds = report.timeline.reduce((n, p) => n + (p.serverHold?.count ?? 0), 0);
    expect(serverHolds, text).toBeGreaterThan(0);
    expect(text).toContain('server hold worst sampled-interval p99');
    // Later joiners are numbered in arrival order; the pre-queue draw is not.
    expect(report.fairness.joinVsNumberTau ?? 0).toBeGreaterThan(0.9);
    expect(Math.abs(report.fairness.preQueueTau ?? 1)).toBeLessThan(0.3);
    const html = readFileSync(path.join(reportDir, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Invariant audit');
    // One row per fan, and one per shopper slot, each ending no sooner than it began.
    const fans = readFileSync(path.join(reportDir, 'fans.csv'), 'utf8').trim().split('\n');
    expect(fans).toHaveLength(1_201);
    const slots = readFileSync(path.join(reportDir, 'slots.csv'), 'utf8').trim().split('\n');
    expect(slots.length).toBeGreaterThan(100);
    for (const row of slots.slice(1)) {
      const [, admitted, , ended] = row.split(',').map(Number);
      expect(ended).toBeGreaterThanOrEqual(admitted as number);
    }
  }, 300_000);
});

describe('simulator options', () => {
  it('parses shares and rejects nonsense naming the option', () => {
    const options = parseOptions(['--customers', '100', '--mix', '1,0,0', '--no-queue'], {});
    expect(options.customers).toBe(100);
    expect(options.bestAvailable).toBe(1);
    expect(options.queue).toBe(false);
    expect(() => parseOptions(['--customers', '-5'], {})).toThrow('--customers');
    expect(() => parseOptions(['--mix', '1,2'], {})).toThrow('--mix');
    expect(() => parseOptions(['--bogus'], {})).toThrow();
    // A shoppers' node belongs to a deployment named by --url.
    expect(() => parseOptions(['--shop-url', 'http://127.0.0.1:1'], {})).toThrow('--shop-url');
    const split = parseOptions(['--url', 'http://127.0.0.1:1', '--shop-url', 'http://127.0.0.1:2',
      '--shop-connections', '2048'], {});
    expect([split.shopUrl, split.shopConnections]).toEqual(['http://127.0.0.1:2', 2048]);
  });
});
