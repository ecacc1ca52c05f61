/**
 * DATABASE_READ_URL: display reads go to the standby, decisions never do, and a lagging or
 * broken standby costs a display read its freshness, never its answer. The "standby" here
 * is a spy in front of the test database that can also play lagging (sees no rows) or
 * down (every query fails).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { buildApp } from '../http/app.js';
import type { App } from '../http/types.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestContext } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db, QueryResult } from './index.js';

const backends = await testBackends();

type Mode = 'ok' | 'lagging' | 'down';

/** A standby stand-in: counts queries; lagging answers nothing, down fails. */
function spyStandby(primary: Db): Db & { queries: number; mode: Mode } {
  const spy = {
    kind: primary.kind, queries: 0, mode: 'ok' as Mode,
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      spy.queries += 1;
      if (spy.mode === 'down') throw new Error('connection refused (standby down)');
      if (spy.mode === 'lagging') return { rows: [], rowCount: 0 } as unknown as QueryResult<T>;
      return await primary.query<T>(sql, params);
    },
    exec: (sql: string) => primary.exec(sql),
    tx: () => {
      throw new Error('assertion failed: a transaction on the read replica');
    },
    ping: () => primary.ping(),
    close: async () => {},
  };
  return spy;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`read replica on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let standby: ReturnType<typeof spyStandby>;
    let gateway: SimulatedGateway;
    let event: EventDetails;

    beforeAll(async () => {
      db = await backend.open();
      standby = spyStandby(db);
      ctx = { ...buildTestContext(db), readDb: standby };
      app = await buildApp(ctx);
      await app.ready();
      gateway = installTestGateway(app, ctx);
      event = await buildEvent(ctx);
    });
    afterAll(async () => {
      await gateway?.close();
      await app?.close();
      await db?.close();
    });

    const displayReads = () => [
      { method: 'GET' as const, url: '/api/v1/events?q=Test' },
      { method: 'GET' as const, url: `/api/v1/events/${event.eventId}` },
      { method: 'GET' as const, url: `/api/v1/events/${event.eventId}/seatmap` },
      { method: 'GET' as const, url: `/api/v1/admin/events/${event.eventId}/stats`,
        headers: adminHeaders },
    ];

    it('serves search, event pages, seat maps and stats from the standby', async () => {
      standby.mode = 'ok';
      for (const request of displayReads()) {
        const before = standby.queries;
        const response = await app.inject(request);
        expect(response.statusCode, `${request.url}: ${response.body}`).toBe(200);
        expect(standby.queries, request.url).toBeGreaterThan(before);
      }
    });

    it('decides holds and payments on the primary only', async () => {
      standby.mode = 'ok';
      const fan = await buildCustomer(ctx);
      const before = standby.queries;
      const hold = await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(fan.token), payload: { zone: 'seats', quantity: 2 } });
      expect(hold.statusCode, hold.body).toBe(201);
      const order = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'replica-1' },
        payload: { paymentMethod: 'sim_ok' } });
      expect(order.statusCode, order.body).toBe(201);
      expect(order.json().status).toBe('confirmed');
      expect(standby.queries).toBe(before);
    });

    it('falls back to the primary when the standby lags or is down', async () => {
      for (const mode of ['lagging', 'down'] as const) {
        standby.mode = mode;
        const page = await app.inject({ method: 'GET', url: `/api/v1/events/${event.eventId}` });
        expect(page.statusCode, `${mode}: ${page.body}`).toBe(200);
        expect(page.json().eventId).toBe(event.eventId);
        const fan = await buildCustomer(ctx);
        const hold = await app.inject({ method: 'POST',
          url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
          payload: { zone: 'seats', quantity: 1 } });
        expect(hold.statusCode, hold.body).toBe(201);
      }
      standby.mode = 'ok';
    });
  });
}
