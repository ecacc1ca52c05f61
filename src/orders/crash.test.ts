/**
 * Invariant 4 across a real crash: a node process is killed with SIGKILL (no exception
 * handler, no finally block runs) after it took the charge at the gateway and before it
 * settled, or after it wrote the payment and its reference and before it sent the charge.
 * A fresh process then reconciles from the gateway's books. Charged: the buyer is charged
 * exactly once, the order is confirmed with its tickets sold once. Not charged: the charge
 * is cancelled at the gateway (a late one can no longer take money) and the order fails.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { systemClock } from '../core/clock.js';
import { databaseLedger, SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomer, buildEvent, buildHold } from '../testing/factories.js';
import { testDatabaseUrl } from '../testing/services.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const childScript = fileURLToPath(new URL('../testing/crashChild.ts', import.meta.url));

/** Starts the node script in its own process; resolves messages as they come. */
function startNode(args: string[]): { child: ChildProcess; next: () => Promise<object> } {
  const child = fork(childScript, args, {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: object[] = [];
  const waiters: ((message: object) => void)[] = [];
  child.on('message', (message: object) => {
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(message);
    else waiter(message);
  });
  const next = () => new Promise<object>((resolve, reject) => {
    const queued = queue.shift();
    if (queued !== undefined) {
      resolve(queued);
      return;
    }
    waiters.push(resolve);
    child.once('exit', (code, signal) => reject(new Error(`node exited (${code ?? signal})`)));
  });
  return { child, next };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Each test starts two or three CLI processes under tsx: slow to boot on a loaded box. */
const childProcessTestMs = 180_000;

describe.skipIf(postgres?.available !== true)('a node killed during checkout', () => {
  let db: Db;
  let ctx: AppContext;
  let url: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
    ctx = buildTestContext(db, { env: { PAYMENT_WINDOW_SECONDS: '600' } });
    const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
    const parsed = new URL(testDatabaseUrl);
    parsed.pathname = `/${rows[0]?.name as string}`;
    url = parsed.toString();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db?.close();
  });

  /** The order, payment, hold, gateway charges, sold tickets and refunds of a hold. */
  const stateOf = async (holdId: string) => (await db.query<{
    order_status: string; payment_status: string; hold_state: string; charges: number;
    captured_at_gateway: number; sold: number; issued: number; refunds: number;
    payments: number;
  }>(
    `SELECT o.status AS order_status, p.status AS payment_status, h.state AS hold_state,
            (SELECT count(*) FROM payments x WHERE x.order_id = o.order_id)::int AS payments,
            (SELECT count(*) FROM simulated_gateway_charges g
              WHERE g.payment_id::text IN (SELECT x.payment_id::text FROM payments x
                                            WHERE x.order_id = o.order_id))::int AS charges,
            (SELECT count(*) FROM simulated_gateway_charges g
              WHERE g.payment_id::text = p.payment_id::text
                AND g.status = 'captured')::int AS captured_at_gateway,
            (SELECT count(*) FROM tickets t WHERE t.order_id = o.order_id)::int AS sold,
            (SELECT count(*) FROM order_tickets t
              WHERE t.order_id = o.order_id AND t.status = 'valid')::int AS issued,
            (SELECT count(*) FROM refunds r WHERE r.order_id = o.order_id)::int AS refunds
       FROM orders o JOIN payments p ON p.order_id = o.order_id
       JOIN holds h ON h.hold_id = o.hold_id
      WHERE o.hold_id = $1`, [holdId])).rows;

  it('SIGKILL after the charge; a fresh reconciler settles it: paid once, sold once',
    async () => {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await buildHold(ctx, event.eventId, fan.customerId,
        { seats: ['A-1-1', 'A-1-2'] });

      const server = startNode(['serve', url]);
      children.push(server.child);
      const { base } = (await server.next()) as { base: string };
      const answer = fetch(`${base}/api/v1/holds/${hold.holdId}/checkout`, {
        method: 'POST', body: JSON.stringify({ paymentMethod: 'sim_ok' }),
        headers: { authorization: `Bearer ${fan.token}`, 'content-type': 'application/json',
          'idempotency-key': 'crash-1' },
      }).then((r) => r.status, (error: unknown) => error);
      expect(await server.next()).toEqual({ charged: true });
      server.child.kill('SIGKILL');
      expect(await exited(server.child)).toEqual({ code: null, signal: 'SIGKILL' });
      // The buyer never got an answer.
      expect(await answer).toBeInstanceOf(Error);

      // Killed exactly there: the gateway has the money, the database has not settled.
      const state = () => stateOf(hold.holdId);
      expect(await state()).toEqual([{ order_status: 'pending_payment',
        payment_status: 'pending', hold_state: 'held', payments: 1, charges: 1,
        captured_at_gateway: 1, sold: 0, issued: 0, refunds: 0 }]);

      // A fresh process reconciles from the gateway's books.
      const reconciler = startNode(['reconcile', url]);
      children.push(reconciler.child);
      expect(await reconciler.next()).toEqual({ touched: { payments: 1, refunds: 0 } });
      expect(await exited(reconciler.child)).toEqual({ code: 0, signal: null });

      expect(await state()).toEqual([{ order_status: 'confirmed',
        payment_status: 'captured', hold_state: 'purchased', payments: 1, charges: 1,
        captured_at_gateway: 1, sold: 2, issued: 2, refunds: 0 }]);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    }, childProcessTestMs);

  it('SIGKILL after the payment is written, before the charge: cancelled, never charged',
    async () => {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await buildHold(ctx, event.eventId, fan.customerId,
        { seats: ['A-1-1', 'A-1-2'] });

      const server = startNode(['serve', url, 'before']);
      children.push(server.child);
      const { base } = (await server.next()) as { base: string };
      const answer = fetch(`${base}/api/v1/holds/${hold.holdId}/checkout`, {
        method: 'POST', body: JSON.stringify({ paymentMethod: 'sim_ok' }),
        headers: { authorization: `Bearer ${fan.token}`, 'content-type': 'application/json',
          'idempotency-key': 'crash-2' },
      }).then((r) => r.status, (error: unknown) => error);
      expect(await server.next()).toEqual({ charging: true });
      server.child.kill('SIGKILL');
      expect(await exited(server.child)).toEqual({ code: null, signal: 'SIGKILL' });
      expect(await answer).toBeInstanceOf(Error);

      // Killed exactly there: the payment and its reference are written in the checkout's
      // first statement; the gateway has no charge.
      expect(await stateOf(hold.holdId)).toEqual([{ order_status: 'pending_payment',
        payment_status: 'pending', hold_state: 'held', payments: 1, charges: 0,
        captured_at_gateway: 0, sold: 0, issued: 0, refunds: 0 }]);
      const { rows: [payment] } = await db.query<{ payment_id: string; provider_ref: string }>(
        `UPDATE payments SET created_at = now() - interval '1 hour', next_attempt_at = NULL
          WHERE order_id IN (SELECT order_id FROM orders WHERE hold_id = $1)
         RETURNING payment_id, provider_ref`, [hold.holdId]);
      expect(payment?.provider_ref).toBe(`simpay_${payment?.payment_id}`);

      // Past the payment window a fresh process abandons it at the gateway: cancelled there,
      // declined here, the seats back on the buyer's own timer.
      const reconciler = startNode(['reconcile', url]);
      children.push(reconciler.child);
      expect(await reconciler.next()).toEqual({ touched: { payments: 1, refunds: 0 } });
      expect(await exited(reconciler.child)).toEqual({ code: 0, signal: null });
      expect(await stateOf(hold.holdId)).toEqual([{ order_status: 'payment_failed',
        payment_status: 'declined', hold_state: 'held', payments: 1, charges: 1,
        captured_at_gateway: 0, sold: 0, issued: 0, refunds: 0 }]);

      // A charge sent now (the frozen node waking up) finds it cancelled: no money moves.
      const late = new SimulatedGateway({ secret: 'late', clock: systemClock,
        deliver: async () => undefined, manual: true, ledger: databaseLedger(db) });
      expect(await late.charge({ paymentId: payment?.payment_id as string, amountCents: 1,
        currency: 'EUR', method: 'sim_ok', description: 'late',
        providerRef: payment?.provider_ref as string }))
        .toMatchObject({ status: 'declined', reason: 'canceled' });
      await late.close();
      expect(await stateOf(hold.holdId)).toMatchObject([{ captured_at_gateway: 0 }]);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    }, childProcessTestMs);
});
