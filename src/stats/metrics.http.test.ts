/**
 * Domain metrics on /metrics: hold outcomes counted from real requests, the line of a
 * ticking event, payments by state, the outbox backlog and (on PostgreSQL) the pool.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator, LeaderElector } from '../coord/index.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent, buildQueuedEvent } from '../testing/factories.js';
import { queueStats, tickLine } from '../queue/admission.js';
import { recountQueueCounts } from '../queue/counts.js';
import { leaveLine } from '../queue/leave.js';
import { joinLine } from '../queue/line.js';

const backends = await testBackends();

/** The value of one sample line, e.g. `stampede_holds_total{outcome="placed"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`domain metrics on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    let event: EventDetails;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));
    beforeAll(async () => {
      event = await buildEvent(ctx);
    });

    const metrics = async (): Promise<string> => {
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      return response.body;
    };

    it('counts placed and conflicting holds, and payments by state', async () => {
      const [a, b] = [await buildCustomer(ctx), await buildCustomer(ctx)];
      const hold = (token: string) => app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(token),
        payload: { seats: ['A-1-1'] } });
      const first = await hold(a.token);
      expect(first.statusCode).toBe(201);
      expect((await hold(b.token)).statusCode).toBe(409);
      const order = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${first.json().holdId}/checkout`,
        headers: { ...bearer(a.token), 'idempotency-key': 'metrics-1' },
        payload: { paymentMethod: 'sim_ok' } });
      expect(order.statusCode, order.body).toBe(201);

      const text = await metrics();
      expect(sample(text, 'stampede_holds_total{outcome="placed"}')).toBe(1);
      expect(sample(text, 'stampede_holds_total{outcome="conflict"}')).toBe(1);
      // Each hold went alone in its event's batch: two waits, two runs, two batches of one.
      expect(sample(text, 'stampede_hold_batch_wait_seconds_count')).toBe(2);
      expect(sample(text, 'stampede_hold_batch_run_seconds_count')).toBe(2);
      expect(sample(text, 'stampede_hold_batch_size_bucket{le="1"}')).toBe(2);
      // The hold route's own hooks (outcome, latency) and the per-route request count agree.
      const holds = '{method="POST",route="/api/v1/events/:eventId/holds",status=';
      expect(sample(text, `stampede_http_requests_total${holds}"201"}`)).toBe(1);
      expect(sample(text, `stampede_http_requests_total${holds}"409"}`)).toBe(1);
      expect(sample(text, 'stampede_payments{status="captured"}')).toBe(1);
      // The hold and the sale each wrote outbox rows; nothing relays them in this test.
      expect(sample(text, 'stampede_outbox_unpublished')).toBeGreaterThan(0);
      expect(sample(text, 'stampede_outbox_lag_seconds')).toBeGreaterThanOrEqual(0);
      expect(sample(text, 'stampede_reconciler_backlog{kind="payments"}')).toBe(0);
      expect(text).toMatch(/stampede_duty_leader\{duty="queue-admission"\} 0/);
      if (backend.name === 'postgres') {
        expect(sample(text, 'stampede_db_pool_connections{state="total"}')).toBeGreaterThan(0);
      }
    });

    it('reports a duty led here exactly while this node holds its lease, wherever the lease '
      + 'lives', async () => {
      // A server keeps leases apart from the coordinator (Redis with a PostgreSQL fallback):
      // the gauge must follow the lease store the duties use, not the coordinator's keys.
      const leases = createMemoryCoordinator({});
      ctx.leases = leases;
      const elector = new LeaderElector(leases, {
        name: 'outbox-relay', holderId: `metrics-${randomUUID()}`, ttlMs: 60_000,
      });
      try {
        expect(sample(await metrics(), 'stampede_duty_leader{duty="outbox-relay"}')).toBe(0);
        await elector.start();
        expect(elector.isLeader()).toBe(true);
        expect(sample(await metrics(), 'stampede_duty_leader{duty="outbox-relay"}')).toBe(1);
        expect(sample(await metrics(), 'stampede_duty_leader{duty="queue-admission"}')).toBe(0);
        await elector.stop();
        expect(sample(await metrics(), 'stampede_duty_leader{duty="outbox-relay"}')).toBe(0);
      } finally {
        await elector.stop();
        delete ctx.leases;
        await leases.close();
      }
    });

    it('serves every metric the Grafana dashboard charts', async () => {
      const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url),
        'utf8');
      const charted = new Set([...dashboard.matchAll(/stampede_[a-z_]+/g)]
        .map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
      expect(charted.size).toBeGreaterThan(8);
      const served = await metrics();
      const missing = [...charted].filter((name) => !served.includes(`# HELP ${name} `));
      expect(missing).toEqual([]);
    });

    it('shows the line of an event whose queue is ticking, and only while it ticks', async () => {
      const queued = await buildEvent(ctx);
      await db.query(
        `INSERT INTO queue_state (event_id, served_up_to, last_tick_at, rate_per_minute)
         VALUES ($1, 7, now(), 120)`, [queued.eventId]);
      // The scrape cache is 2 s; wait it out so this test reads fresh figures.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const series = `stampede_queue_served_up_to{event_id="${queued.eventId}"}`;
      expect(sample(await metrics(), series)).toBe(7);
      await db.query(`UPDATE queue_state SET last_tick_at = now() - interval '1 hour'
                       WHERE event_id = $1`, [queued.eventId]);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect(sample(await metrics(), series)).toBeUndefined();
    });

    it('gives the line as the kept counts and the dashboard do, a fan who left not waiting',
      async () => {
        const event = await buildQueuedEvent(ctx, { maxActiveShoppers: 3 });
        const fans = await Promise.all(
          Array.from({ length: 6 }, async () => (await buildCustomer(ctx)).customerId));
        await joinLine(db, event, fans, undefined);
        await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
        const { rows } = await db.query<{ customer_id: string }>(
          'SELECT customer_id FROM queue_admissions WHERE event_id = $1', [event.eventId]);
        const admitted = new Set(rows.map((r) => r.customer_id));
        const stillWaiting = fans.find((fan) => !admitted.has(fan)) as string;
        await leaveLine(db, event.eventId, stillWaiting, 'left');
        await new Promise((resolve) => setTimeout(resolve, 2_100));
        const text = await metrics();
        const gauge = (name: string) => sample(text, `${name}{event_id="${event.eventId}"}`);
        const recount = await recountQueueCounts(db, event.eventId);
        const stats = await queueStats(db, event.eventId);
        expect(admitted.size).toBe(3);
        expect(gauge('stampede_queue_waiting')).toBe(
          recount.joined - recount.admitted - recount.leftUnadmitted);
        expect(gauge('stampede_queue_waiting')).toBe(2);
        expect(gauge('stampede_queue_waiting')).toBe(stats.waiting);
        expect(gauge('stampede_queue_admitted')).toBe(stats.admitted);
        expect(gauge('stampede_queue_active_shoppers')).toBe(stats.activeShoppers);
        expect(gauge('stampede_queue_active_shoppers')).toBe(3);
      });
  });
}
