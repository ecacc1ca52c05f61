/**
 * Queue passes decided inside the hold batch (migration 035), over real HTTP on a real
 * port. A pass is checked on the node (signature, binding, expiry by the node's clock) and
 * claimed against its admission row by the hold's own batch, so a pass released or expired
 * while its hold waits for the batch is refused, not used (SPEC §2.6: a pass is not usable
 * after expiry or release). The batches are held back while the requests arrive (a
 * GatherGate, the apps' `seams.holdBatches`), so what happens between a request's gate and
 * its batch is placed there by construction, not by luck.
 *
 * The control runs on a second app over the same database with the batch's pass check
 * removed (`unguarded: 'queue-pass'`, holds/claim.ts Guard): the pass is claimed in a
 * statement of its own before the batch, as it was before migration 035, and the released
 * pass then takes a seat from a live shopper: the race is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { releaseShopperSlot } from '../queue/admission.js';
import { waitingRoom } from '../queue/room.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomers, buildEvent } from '../testing/factories.js';
import { GatherGate } from '../testing/holdGate.js';
import { waitForLockWait } from '../testing/lockWait.js';

const backends = await testBackends();

interface Reply {
  status: number;
  code?: string;
  detail?: string;
  holdId?: string;
}

interface Shopper {
  customerId: string;
  token: string;
  pass: string;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`queue passes in the hold batch on ${backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;
    const apps: App[] = [];
    const bases = new Map<'guarded' | 'queue-pass', string>();
    const gate = new GatherGate();
    const seams = { holdBatches: gate };

    beforeAll(async () => {
      db = await backend.open({ poolMax: 10 });
      const built = await buildTestApp(db, { seams });
      ctx = built.ctx;
      apps.push(built.app);
      bases.set('guarded', await built.app.listen({ port: 0, host: '127.0.0.1' }));
      const control = await buildTestApp(db, { unguarded: 'queue-pass', seams });
      apps.push(control.app);
      bases.set('queue-pass', await control.app.listen({ port: 0, host: '127.0.0.1' }));
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await db?.close();
    });

    async function queuedEvent(): Promise<string> {
      const event = await buildEvent(ctx, {
        queue: { enabled: true, admitPerMinute: 60, maxActiveShoppers: 100 },
      });
      return event.eventId;
    }

    /** Customers admitted to the event's line (rows as a tick writes them) with their passes. */
    async function shoppers(eventId: string, n: number): Promise<Shopper[]> {
      const customers = await buildCustomers(ctx, n);
      const out: Shopper[] = [];
      for (const [i, customer] of customers.entries()) {
        const { rows } = await db.query<{ pass_id: string; expires_ms: number }>(
          `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                         claim_by, expires_at, leader_token)
           VALUES ($1, $2, $3, gen_random_uuid(), now(), now() + interval '120 seconds',
                   now() + interval '600 seconds', 1)
           RETURNING pass_id, extract(epoch FROM expires_at)::float8 * 1000 AS expires_ms`,
          [eventId, customer.customerId, i + 1]);
        const row = rows[0] as { pass_id: string; expires_ms: number };
        const pass = waitingRoom(ctx).passes.sign({
          eventId, customerId: customer.customerId, passId: row.pass_id, number: i + 1,
          expiresAtMs: Math.floor(row.expires_ms),
        });
        out.push({ customerId: customer.customerId, token: customer.token, pass });
      }
      return out;
    }

    function hold(
      eventId: string, shopper: Shopper, body: object, via: 'guarded' | 'queue-pass',
      key?: string,
    ): Promise<Reply> {
      return (async () => {
        const response = await fetch(`${bases.get(via) as string}/api/v1/events/${eventId}/holds`, {
          method: 'POST', body: JSON.stringify(body),
          headers: {
            authorization: `Bearer ${shopper.token}`, 'content-type': 'application/json',
            'x-queue-pass': shopper.pass,
            ...(key === undefined ? {} : { 'idempotency-key': key }),
          },
        });
        const json = (await response.json()) as { code?: string; detail?: string; holdId?: string };
        return { status: response.status, code: json.code, detail: json.detail,
          holdId: json.holdId };
      })();
    }

    async function claimedAt(eventId: string, customerId: string): Promise<Date | null> {
      const { rows } = await db.query<{ claimed_at: Date | null }>(
        'SELECT claimed_at FROM queue_admissions WHERE event_id = $1 AND customer_id = $2',
        [eventId, customerId]);
      return rows[0]?.claimed_at ?? null;
    }

    async function holdsOf(eventId: string, customerId: string): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM holds WHERE event_id = $1 AND customer_id = $2',
        [eventId, customerId]);
      return rows[0]?.n ?? 0;
    }

    /**
     * Two shoppers want seat A-1-1 in one batch: the first's hold reaches the batcher, then
     * `between` runs (the first's pass is released or expires), then the second's request
     * lets the batch go.
     */
    async function raceForSeat(
      via: 'guarded' | 'queue-pass', between: (eventId: string, first: Shopper) => Promise<void>,
    ): Promise<{ eventId: string; first: Shopper; second: Shopper; replies: Reply[] }> {
      const eventId = await queuedEvent();
      const [first, second] = await shoppers(eventId, 2) as [Shopper, Shopper];
      const released = gate.gather(eventId, 2);
      const firstReply = hold(eventId, first, { seats: ['A-1-1'] }, via, `first-${eventId}`);
      await gate.queued(eventId, 1);
      await between(eventId, first);
      const secondReply = hold(eventId, second, { seats: ['A-1-1'] }, via);
      await released;
      return { eventId, first, second, replies: await Promise.all([firstReply, secondReply]) };
    }

    const release = async (eventId: string, shopper: Shopper): Promise<void> => {
      expect(await releaseShopperSlot(db, eventId, shopper.customerId)).toBe(true);
    };
    const expire = async (eventId: string, shopper: Shopper): Promise<void> => {
      // The row as it stands once its time is up (claimed earlier, now past its expiry).
      await db.query(
        `UPDATE queue_admissions SET claimed_at = now() - interval '2 seconds',
                claim_by = now() - interval '2 seconds', expires_at = now() - interval '1 second'
          WHERE event_id = $1 AND customer_id = $2`, [eventId, shopper.customerId]);
    };

    it('control: without the batch\'s check, a pass released while its hold waits takes the '
      + 'seat from a live shopper', async () => {
      const { eventId, first, replies } = await raceForSeat('queue-pass', release);
      expect(replies.map((r) => [r.status, r.code])).toEqual(
        [[201, undefined], [409, 'seats_unavailable']]);
      expect(await holdsOf(eventId, first.customerId)).toBe(1);
    });

    it('a pass released while its hold waits for the batch is refused; the live shopper '
      + 'gets the seat', async () => {
      const { eventId, first, replies } = await raceForSeat('guarded', release);
      expect(replies.map((r) => [r.status, r.code])).toEqual(
        [[403, 'queue_pass_required'], [201, undefined]]);
      expect(replies[0]?.detail).toMatch(/used up/);
      expect(await holdsOf(eventId, first.customerId)).toBe(0);
      // A gate's refusal is not stored against the key: nothing was recorded.
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM idempotency_keys WHERE customer_id = $1',
        [first.customerId]);
      expect(rows[0]?.n).toBe(0);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    it('control: without the batch\'s check, a pass that expired while its hold waits is '
      + 'used', async () => {
      const { replies } = await raceForSeat('queue-pass', expire);
      expect(replies.map((r) => r.status)).toEqual([201, 409]);
    });

    it('a pass that expired while its hold waits for the batch is refused', async () => {
      const { eventId, first, replies } = await raceForSeat('guarded', expire);
      expect(replies.map((r) => [r.status, r.code])).toEqual(
        [[403, 'queue_pass_required'], [201, undefined]]);
      expect(replies[0]?.detail).toMatch(/expired/);
      expect(await holdsOf(eventId, first.customerId)).toBe(0);
    });

    it('one batch: live passes claimed whatever the hold\'s outcome, a lapsed one refused '
      + 'before anything is written, a pass used twice by its owner', async () => {
      const eventId = await queuedEvent();
      const [a, b, c] = await shoppers(eventId, 3) as [Shopper, Shopper, Shopper];
      // b never showed up within the claim grace.
      await db.query(
        `UPDATE queue_admissions SET admitted_at = now() - interval '10 seconds',
                claim_by = now() - interval '1 second'
          WHERE event_id = $1 AND customer_id = $2`, [eventId, b.customerId]);
      const released = gate.gather(eventId, 4);
      const replies: Promise<Reply>[] = [];
      const shots: [Shopper, object][] = [
        [a, { seats: ['A-1-1'] }], [b, { seats: ['A-1-2'] }], [c, { seats: ['A-1-1'] }],
        [a, { seats: ['A-1-3'] }],
      ];
      for (const [i, [shopper, body]] of shots.entries()) {
        replies.push(hold(eventId, shopper, body, 'guarded'));
        if (i + 1 < shots.length) await gate.queued(eventId, i + 1);
      }
      await released;
      const answered = await Promise.all(replies);
      expect(answered.map((r) => [r.status, r.code])).toEqual([
        [201, undefined], [403, 'queue_pass_required'], [409, 'seats_unavailable'],
        [201, undefined],
      ]);
      expect(answered[1]?.detail).toMatch(/claim grace/);
      expect(await claimedAt(eventId, a.customerId)).not.toBeNull();
      expect(await claimedAt(eventId, b.customerId)).toBeNull();
      // c lost the seat, but showed up: the slot is claimed.
      expect(await claimedAt(eventId, c.customerId)).not.toBeNull();
      expect(await holdsOf(eventId, b.customerId)).toBe(0);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    it('a pass is claimed, or refused, even when the hold fails before any batch', async () => {
      const eventId = await queuedEvent();
      const [live, used] = await shoppers(eventId, 2) as [Shopper, Shopper];
      await release(eventId, used);
      // No such seat: refused on the node, before a batch (400), but the pass was used.
      const unknown = await hold(eventId, live, { seats: ['A-99-1'] }, 'guarded');
      expect([unknown.status, unknown.code]).toEqual([400, 'validation_failed']);
      expect(await claimedAt(eventId, live.customerId)).not.toBeNull();
      // A used-up pass is told so first, whatever else is wrong with the request.
      const refused = await hold(eventId, used, { seats: ['A-99-1'] }, 'guarded');
      expect([refused.status, refused.code]).toEqual([403, 'queue_pass_required']);
      expect(refused.detail).toMatch(/used up/);
    });

    it('a revoked token claims nothing', async () => {
      const eventId = await queuedEvent();
      const [fan] = await shoppers(eventId, 1) as [Shopper];
      // Revoked behind this node's back (as another node does): its cache knows nothing.
      await db.query('UPDATE customers SET token_version = token_version + 1 WHERE customer_id = $1',
        [fan.customerId]);
      const refused = await hold(eventId, fan, { seats: ['A-1-1'] }, 'guarded');
      expect([refused.status, refused.code]).toEqual([401, 'unauthorized']);
      expect(await claimedAt(eventId, fan.customerId)).toBeNull();
    });

    describe.skipIf(backend.name !== 'postgres')('a release committed while the batch runs', () => {
      it('the batch waits for the row, checks it again and refuses the pass', async () => {
        const eventId = await queuedEvent();
        const [fan] = await shoppers(eventId, 1) as [Shopper];
        let reply: Promise<Reply> | undefined;
        await db.tx(async (tx) => {
          // The order confirmation's release, not yet committed: the row is locked.
          await tx.query(
            `UPDATE queue_admissions SET released_at = now(), release_reason = 'order'
              WHERE event_id = $1 AND customer_id = $2`, [eventId, fan.customerId]);
          reply = hold(eventId, fan, { seats: ['A-1-1'] }, 'guarded');
          // Until the batch is waiting for that row lock (a condition, not a sleep).
          await waitForLockWait(db, 'hold_batch', 'the batch');
        });
        const answered = await (reply as Promise<Reply>);
        expect([answered.status, answered.code]).toEqual([403, 'queue_pass_required']);
        expect(answered.detail).toMatch(/used up/);
        expect(await holdsOf(eventId, fan.customerId)).toBe(0);
      });
    });
  });
}
