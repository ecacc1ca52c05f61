/**
 * Simulator options: defaults, command-line parsing and validation. Every option has a
 * default, so `stampede simulate` alone runs a small, complete on-sale.
 */
import { parseArgs } from 'node:util';

export interface SimOptions {
  /** A running server to target; unset: the simulator starts one itself. */
  url: string | undefined;
  /**
   * Another node of the same deployment for the shoppers' lane (holds, checkout, admitted
   * fans' polls), as a balancer that routes the store apart from the waiting room would;
   * unset: the shoppers' lane goes to `url` too. Only with `url`.
   */
  shopUrl: string | undefined;
  adminToken: string | undefined;
  /** PostgreSQL of the target, for the invariant audit when targeting --url. */
  auditDatabaseUrl: string | undefined;
  customers: number;
  seed: number;
  /** An existing event to sell; unset: a venue and event are generated. */
  eventId: string | undefined;
  seats: number;
  standing: number;
  queue: boolean;
  admitPerMinute: number;
  maxActiveShoppers: number;
  passSeconds: number;
  holdSeconds: number;
  maxTicketsPerCustomer: number;
  /** The generated event goes on sale this long after the crowd starts arriving. */
  preOnSaleSeconds: number;
  /** Share of customers who arrive before the on-sale (the pre-queue). */
  earlyFraction: number;
  /** Mean delay of the post-on-sale arrivals (exponential burst). */
  burstSeconds: number;
  /** Shopping behaviour mix; normalized. */
  bestAvailable: number;
  pickSeats: number;
  standingShare: number;
  /** Zipf exponent of seat popularity when picking seats (higher: more fans want the same). */
  popularSkew: number;
  /** Outcome ratios once holding; normalized. */
  pay: number;
  decline: number;
  abandon: number;
  /** Share of confirmed orders cancelled later. */
  cancel: number;
  /** Share of payers who pay with the asynchronous method (webhook confirmation). */
  asyncPay: number;
  /** Share of payers whose payment the provider takes seconds to capture (`sim_slow`). */
  slowPay: number;
  /**
   * Share of fans whose payment was declined who give their pass back (the rest just go).
   * Fans who gave up because nothing fitted always give it back.
   */
  leave: number;
  /** Share of fans told sold out who take the waitlist in one step. */
  waitlist: number;
  thinkMs: number;
  maxSeconds: number;
  /** Customers whose SSE stream is kept open to watch the line (and measure ETA). */
  observers: number;
  /** HTTP connections per lane: the crowd's, and the shoppers' (sim/http.ts). */
  connections: number;
  /** Connections of the shoppers' lane when it needs more than the crowd's; unset: same. */
  shopConnections: number | undefined;
  reportDir: string;
  progress: boolean;
}

export const defaultOptions: SimOptions = {
  url: undefined,
  shopUrl: undefined,
  adminToken: undefined,
  auditDatabaseUrl: undefined,
  customers: 2_000,
  seed: 1,
  eventId: undefined,
  seats: 1_000,
  standing: 500,
  queue: true,
  admitPerMinute: 6_000,
  maxActiveShoppers: 400,
  passSeconds: 120,
  holdSeconds: 60,
  maxTicketsPerCustomer: 6,
  preOnSaleSeconds: 3,
  earlyFraction: 0.2,
  burstSeconds: 4,
  bestAvailable: 0.5,
  pickSeats: 0.3,
  standingShare: 0.2,
  popularSkew: 1.1,
  pay: 0.8,
  decline: 0.1,
  abandon: 0.1,
  cancel: 0.05,
  asyncPay: 0.1,
  slowPay: 0,
  leave: 0.5,
  waitlist: 0.5,
  thinkMs: 300,
  maxSeconds: 300,
  observers: 50,
  connections: 128,
  shopConnections: undefined,
  reportDir: 'sim-report',
  progress: true,
};

export const usage = `usage: stampede simulate [options]

Replays an on-sale: a crowd arrives around the on-sale time, waits in the queue (over
SSE), holds tickets, pays (or declines, or walks away), sometimes cancels; then audits
the invariants straight from the database and writes a report.

  --url URL                 target a running server (default: start one here; it uses
                            DATABASE_URL / REDIS_URL when set, else embedded)
  --shop-url URL            send the shoppers' requests (holds, checkout, polls of fans with
                            a pass) to this node of the same deployment (default: --url)
  --admin-token TOKEN       admin token of the target (default STAMPEDE_ADMIN_TOKEN)
  --audit-database-url URL  the target's PostgreSQL, for the audit with --url
  --customers N             crowd size (${defaultOptions.customers})
  --seed N                  randomness seed; the same seed replays the same crowd (1)
  --event ID                sell an existing event instead of a generated one
  --seats N --standing N    size of the generated venue (${defaultOptions.seats}, ${defaultOptions.standing})
  --no-queue                sell without the waiting room
  --admit-per-minute N      queue admission rate (${defaultOptions.admitPerMinute})
  --max-active N            queue: shoppers with a live pass at once (${defaultOptions.maxActiveShoppers})
  --pass-seconds N          queue pass lifetime (${defaultOptions.passSeconds})
  --hold-seconds N          hold timer (${defaultOptions.holdSeconds})
  --pre-onsale-seconds N    on-sale starts N s after arrivals begin (${defaultOptions.preOnSaleSeconds})
  --early F                 share arriving before on-sale (${defaultOptions.earlyFraction})
  --burst-seconds N         mean arrival delay after on-sale (${defaultOptions.burstSeconds})
  --mix B,P,S               best-available, pick-seats, standing shares (0.5,0.3,0.2)
  --skew S                  seat popularity skew, Zipf exponent (${defaultOptions.popularSkew})
  --outcomes P,D,A          pay, decline, abandon shares (0.8,0.1,0.1)
  --cancel F                share of orders cancelled later (${defaultOptions.cancel})
  --async-pay F             share of payers confirmed by webhook (${defaultOptions.asyncPay})
  --slow-pay F              share of payers the provider captures slowly (${defaultOptions.slowPay})
  --leave F                 share of fans whose payment failed who give the pass back;
                            the rest just go and their slot frees when idle (${defaultOptions.leave})
  --waitlist F              share of fans told sold out who take the waitlist (${defaultOptions.waitlist})
  --think-ms N              mean think time (${defaultOptions.thinkMs})
  --max-seconds N           stop after this long (${defaultOptions.maxSeconds})
  --observers N             SSE streams kept open to watch the line (${defaultOptions.observers})
  --connections N           HTTP connections to the server, per lane: the crowd's (joins,
                            waitlist) and the shoppers' (fans with a pass) (${defaultOptions.connections})
  --shop-connections N      connections of the shoppers' lane (default: --connections)
  --report DIR              where report.txt, report.html, report.json go (${defaultOptions.reportDir})
  --no-progress             no live progress line`;

/** Thrown for a bad option; the message names it. */
export class OptionError extends Error {}

function number(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new OptionError(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function triple(raw: string | undefined, name: string): [number, number, number] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((part) => Number(part));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) ||
      parts.reduce((a, b) => a + b, 0) <= 0) {
    throw new OptionError(`--${name} takes three non-negative shares like 0.5,0.3,0.2`);
  }
  return parts as [number, number, number];
}

/** Parses command-line arguments over the defaults. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): SimOptions {
  const stringOptions = [
    'url', 'admin-token', 'audit-database-url', 'customers', 'seed', 'event', 'seats',
    'standing', 'admit-per-minute', 'max-active', 'pass-seconds', 'hold-seconds',
    'pre-onsale-seconds', 'early', 'burst-seconds', 'mix', 'skew', 'outcomes', 'cancel',
    'async-pay', 'slow-pay', 'leave', 'waitlist', 'think-ms', 'max-seconds', 'observers',
    'connections', 'report', 'shop-url', 'shop-connections',
  ];
  const spec: Record<string, { type: 'string' | 'boolean' }> = {
    'no-queue': { type: 'boolean' }, 'no-progress': { type: 'boolean' },
  };
  for (const name of stringOptions) spec[name] = { type: 'string' };
  const parsed = parseArgs({ args: argv, strict: true, options: spec });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const d = defaultOptions;
  const mix = triple(text('mix'), 'mix');
  const outcomes = triple(text('outcomes'), 'outcomes');
  const url = text('url');
  const shopUrl = text('shop-url');
  if (shopUrl !== undefined && url === undefined) {
    throw new OptionError('--shop-url needs --url: it names another node of that deployment');
  }
  return {
    url, shopUrl,
    adminToken: text('admin-token') ?? env.STAMPEDE_ADMIN_TOKEN,
    auditDatabaseUrl: text('audit-database-url'),
    customers: number(text('customers'), 'customers', 1, 10_000_000) ?? d.customers,
    seed: number(text('seed'), 'seed', 0, 2 ** 32 - 1) ?? d.seed,
    eventId: text('event'),
    seats: number(text('seats'), 'seats', 0, 250_000) ?? d.seats,
    standing: number(text('standing'), 'standing', 0, 200_000) ?? d.standing,
    queue: values['no-queue'] !== true,
    admitPerMinute: number(text('admit-per-minute'), 'admit-per-minute', 1, 1_000_000) ??
      d.admitPerMinute,
    maxActiveShoppers: number(text('max-active'), 'max-active', 1, 1_000_000) ??
      d.maxActiveShoppers,
    passSeconds: number(text('pass-seconds'), 'pass-seconds', 30, 7_200) ?? d.passSeconds,
    holdSeconds: number(text('hold-seconds'), 'hold-seconds', 1, 7_200) ?? d.holdSeconds,
    maxTicketsPerCustomer: d.maxTicketsPerCustomer,
    preOnSaleSeconds: number(text('pre-onsale-seconds'), 'pre-onsale-seconds', 0, 3_600) ??
      d.preOnSaleSeconds,
    earlyFraction: number(text('early'), 'early', 0, 1) ?? d.earlyFraction,
    burstSeconds: number(text('burst-seconds'), 'burst-seconds', 0, 3_600) ?? d.burstSeconds,
    bestAvailable: mix?.[0] ?? d.bestAvailable,
    pickSeats: mix?.[1] ?? d.pickSeats,
    standingShare: mix?.[2] ?? d.standingShare,
    popularSkew: number(text('skew'), 'skew', 0, 5) ?? d.popularSkew,
    pay: outcomes?.[0] ?? d.pay,
    decline: outcomes?.[1] ?? d.decline,
    abandon: outcomes?.[2] ?? d.abandon,
    cancel: number(text('cancel'), 'cancel', 0, 1) ?? d.cancel,
    asyncPay: number(text('async-pay'), 'async-pay', 0, 1) ?? d.asyncPay,
    slowPay: number(text('slow-pay'), 'slow-pay', 0, 1) ?? d.slowPay,
    leave: number(text('leave'), 'leave', 0, 1) ?? d.leave,
    waitlist: number(text('waitlist'), 'waitlist', 0, 1) ?? d.waitlist,
    thinkMs: number(text('think-ms'), 'think-ms', 0, 600_000) ?? d.thinkMs,
    maxSeconds: number(text('max-seconds'), 'max-seconds', 1, 86_400) ?? d.maxSeconds,
    observers: number(text('observers'), 'observers', 1, 100_000) ?? d.observers,
    connections: number(text('connections'), 'connections', 1, 10_000) ?? d.connections,
    shopConnections: number(text('shop-connections'), 'shop-connections', 1, 20_000),
    reportDir: text('report') ?? d.reportDir,
    progress: values['no-progress'] !== true && env.CI !== 'true',
  };
}
