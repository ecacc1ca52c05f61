/**
 * Model-based test of the booking engine: fast-check generates interleavings of hold
 * (seats, best available, standing), release, extend, expire, checkout, pay (webhook
 * deliveries: partial, duplicated, reordered), cancel, sweep and reconcile, and after
 * every step the database is audited for SPEC §2's invariants. Time is moved in the
 * database (a hold is expired by moving its expiry into the past), never by sleeping.
 * A failure prints the seed and the shrunk command list; FC_SEED=<seed> replays it.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvent, type EventRecord } from '../catalog/events.js';
import { systemClock } from '../core/clock.js';
import { DomainError, type ErrorCode } from '../core/errors.js';
import { createHold, extendHold, releaseHold } from '../holds/holds.js';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import {
  databaseLedger, SimulatedGateway, type WebhookDelivery,
} from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
import { cancelOrder } from './cancel.js';
import { checkout } from './checkout.js';
import { reconcilePayments } from './reconcile.js';
import { applyProviderEvent, type BookingDeps } from './settle.js';

const backends = await testBackends();
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env.FC_RUNS ?? 30);

interface Real {
  db: Db;
  deps: BookingDeps;
  gateway: SimulatedGateway;
  event: EventRecord;
  customers: string[];
  holds: { holdId: string; customerId: string }[];
  orders: { orderId: string; customerId: string }[];
  log: string[];
}

type Model = Record<string, never>;

/** Outcomes per command kind over all runs, printed so a reader sees what was exercised. */
const tally = new Map<string, number>();

/** Runs a domain command; expected refusals are fine, anything else fails the run. */
async function expecting(
  real: Real, label: string, allowed: ErrorCode[], work: () => Promise<unknown>,
): Promise<void> {
  let outcome = 'ok';
  try {
    await work();
  } catch (error) {
    if (!(error instanceof DomainError && allowed.includes(error.code))) throw error;
    outcome = error.code;
  }
  real.log.push(`${label}: ${outcome}`);
  const kind = label.split('(')[0] as string;
  tally.set(`${kind}: ${outcome}`, (tally.get(`${kind}: ${outcome}`) ?? 0) + 1);
  // Refusals are audited too: a refused command must have changed nothing that matters.
  const problems = await auditBooking(real.db, real.event.eventId);
  if (problems.length > 0) {
    throw new Error(`invariants broken after ${label}:\n${problems.join('\n')}\n` +
      `steps:\n${real.log.join('\n')}`);
  }
}

abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  abstract run(model: Model, real: Real): Promise<void>;
  abstract toString(): string;
}

const pick = <T>(items: readonly T[], index: number): T | undefined =>
  items.length === 0 ? undefined : items[index % items.length];

class HoldSeats extends Step {
  constructor(readonly who: number, readonly seats: string[]) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const customerId = pick(real.customers, this.who) as string;
    await expecting(real, this.toString(), ['seats_unavailable', 'limit_exceeded'], async () => {
      const hold = await createHold(real.deps.db, real.event, customerId, { seats: this.seats });
      real.holds.push({ holdId: hold.holdId, customerId });
    });
  }
  toString(): string {
    return `holdSeats(c${this.who}, ${this.seats.join('+')})`;
  }
}

class HoldZone extends Step {
  constructor(readonly who: number, readonly zone: string, readonly quantity: number) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const customerId = pick(real.customers, this.who) as string;
    await expecting(real, this.toString(), ['insufficient_inventory', 'limit_exceeded'],
      async () => {
        const hold = await createHold(real.deps.db, real.event, customerId,
          { zone: this.zone, quantity: this.quantity });
        real.holds.push({ holdId: hold.holdId, customerId });
      });
  }
  toString(): string {
    return `holdZone(c${this.who}, ${this.zone}×${this.quantity})`;
  }
}

class Release extends Step {
  constructor(readonly index: number) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const hold = pick(real.holds, this.index);
    if (hold === undefined) return;
    await expecting(real, this.toString(), ['hold_purchased', 'payment_pending'], () =>
      releaseHold(real.deps.db, hold.customerId, hold.holdId));
  }
  toString(): string {
    return `release(h${this.index})`;
  }
}

class Extend extends Step {
  constructor(readonly index: number) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const hold = pick(real.holds, this.index);
    if (hold === undefined) return;
    await expecting(real, this.toString(),
      ['hold_expired', 'extension_used', 'hold_purchased', 'payment_pending'],
      () => extendHold(real.deps.db, hold.customerId, hold.holdId));
  }
  toString(): string {
    return `extend(h${this.index})`;
  }
}

/** Time passes for one hold: its buyer timer and reservation end now (database clock). */
class Expire extends Step {
  constructor(readonly index: number) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const hold = pick(real.holds, this.index);
    if (hold === undefined) return;
    await expecting(real, this.toString(), [], () => real.db.tx(async (tx) => {
      await tx.query(
        `UPDATE holds SET expires_at = now() - interval '1 second',
                          claim_expires_at = now() - interval '1 second'
          WHERE hold_id = $1 AND state = 'held'`, [hold.holdId]);
      await tx.query(
        `UPDATE tickets SET hold_expires_at = now() - interval '1 second'
          WHERE hold_id = $1 AND order_id IS NULL`, [hold.holdId]);
    }));
  }
  toString(): string {
    return `expire(h${this.index})`;
  }
}

class Checkout extends Step {
  constructor(readonly index: number, readonly method: string) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const hold = pick(real.holds, this.index);
    if (hold === undefined) return;
    await expecting(real, this.toString(),
      ['hold_expired', 'hold_purchased', 'payment_pending'], async () => {
        const order = await checkout(real.deps, {
          customerId: hold.customerId, holdId: hold.holdId, paymentMethod: this.method,
        });
        real.orders.push({ orderId: order.orderId, customerId: hold.customerId });
      });
  }
  toString(): string {
    return `checkout(h${this.index}, ${this.method})`;
  }
}

/** Webhooks arrive: some of the queued ones, in a chosen order, possibly again later. */
class Pay extends Step {
  constructor(readonly picks: number[], readonly drain: boolean) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const queued = real.gateway.pending();
    const chosen = this.picks.map((i) => pick(queued, i)).filter((d) => d !== undefined);
    await expecting(real, this.toString(), [], async () => {
      for (const delivery of chosen) await deliver(real, delivery);
      if (this.drain) await real.gateway.flush();
    });
  }
  toString(): string {
    return `pay([${this.picks.join(',')}]${this.drain ? ', drain' : ''})`;
  }
}

class Cancel extends Step {
  constructor(readonly index: number, readonly admin: boolean) { super(); }
  async run(_m: Model, real: Real): Promise<void> {
    const order = pick(real.orders, this.index);
    if (order === undefined) return;
    await expecting(real, this.toString(), ['payment_pending'], () => cancelOrder(real.deps,
      order.orderId, this.admin ? { admin: true } : { customerId: order.customerId }));
  }
  toString(): string {
    return `cancel(o${this.index}${this.admin ? ', admin' : ''})`;
  }
}

class Sweep extends Step {
  async run(_m: Model, real: Real): Promise<void> {
    await expecting(real, this.toString(), [], () => sweepExpiredHolds(real.db, 2));
  }
  toString(): string {
    return 'sweep';
  }
}

class Reconcile extends Step {
  async run(_m: Model, real: Real): Promise<void> {
    await expecting(real, this.toString(), [], () =>
      reconcilePayments(real.deps, { pendingAfterSeconds: 0, refundAfterSeconds: 0 }));
  }
  toString(): string {
    return 'reconcile';
  }
}

async function deliver(real: Real, delivery: WebhookDelivery): Promise<void> {
  const event = real.gateway.verifyWebhook(Buffer.from(delivery.body), delivery.headers,
    Date.now());
  await applyProviderEvent(real.deps, event);
}

const seatIds = ['A-1-1', 'A-1-2', 'A-1-3', 'A-1-4', 'A-2-1', 'A-2-2', 'A-2-3', 'A-2-4'];
const who = fc.nat({ max: 2 });
const index = fc.nat({ max: 20 });
const steps = [
  fc.tuple(who, fc.subarray(seatIds, { minLength: 1, maxLength: 3 }))
    .map(([c, seats]) => new HoldSeats(c, seats)),
  fc.tuple(who, fc.constantFrom('seats', 'floor'), fc.integer({ min: 1, max: 3 }))
    .map(([c, zone, q]) => new HoldZone(c, zone, q)),
  index.map((i) => new Release(i)),
  index.map((i) => new Extend(i)),
  index.map((i) => new Expire(i)),
  fc.tuple(index, fc.constantFrom('sim_ok', 'sim_declined', 'sim_async_ok',
    'sim_async_declined')).map(([i, m]) => new Checkout(i, m)),
  fc.tuple(fc.array(fc.nat({ max: 30 }), { maxLength: 4 }), fc.boolean())
    .map(([picks, drain]) => new Pay(picks, drain)),
  fc.tuple(index, fc.boolean()).map(([i, admin]) => new Cancel(i, admin)),
  fc.constant(new Sweep()),
  fc.constant(new Reconcile()),
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`booking model on ${backend.name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => db?.close());

    it('keeps every invariant under random interleavings', async () => {
      const ctx = buildTestContext(db);
      const customers = (await buildCustomers(ctx, 3)).map((c) => c.customerId);
      const logger = pino({ level: 'silent' });
      tally.clear();
      console.info(`[booking model] ${backend.name}: seed ${seed}, ${numRuns} runs`);
      const sequences = fc.commands(steps, { maxCommands: 40, size: 'max' });
      await fc.assert(fc.asyncProperty(sequences, async (cmds) => {
        const venue = await buildVenue(ctx, { rows: 2, seatsPerRow: 4, standing: 5 });
        const created = await buildEvent(ctx, { venue, maxTicketsPerCustomer: 4,
          holdExtensionSeconds: 60 });
        let real: Real | undefined;
        // flush() delivers through the same verify + apply path as the webhook route.
        const gateway = new SimulatedGateway({ secret: 'model-secret-0123456789',
          clock: systemClock, manual: true, ledger: databaseLedger(db),
          deliver: (d) => deliver(real as Real, d) });
        const deps: BookingDeps = { db, provider: gateway, paymentWindowSeconds: 600, logger };
        real = { db, deps, gateway, event: await loadEvent(db, created.eventId),
          customers, holds: [], orders: [], log: [] };
        const state = real;
        await fc.asyncModelRun(() => ({ model: {}, real: state }), cmds);
        await gateway.flush();
        expect(await auditBooking(db, created.eventId)).toEqual([]);
      }), { numRuns, seed, verbose: 1 });
      console.info([...tally.entries()].sort().map(([k, n]) => `  ${k} ×${n}`).join('\n'));
      expect(tally.get('checkout: ok') ?? 0).toBeGreaterThan(0);
      expect(tally.get('cancel: ok') ?? 0).toBeGreaterThan(0);
    });
  });
}
