/** Per-customer rate limits on booking writes: checkout, extend, release, cancel (SPEC §5). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';

const [pglite] = await testBackends();

describe('booking write rate limits', () => {
  let db: Db;
  let app: App;
  let ctx: AppContext;

  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
    ({ app, ctx } = await buildTestApp(db,
      { env: { RATE_LIMIT_BOOKING_WRITES_PER_CUSTOMER: '2' } }));
    installTestGateway(app, ctx);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('limits each booking write per customer with 429 and Retry-After', async () => {
    const fan = await buildCustomer(ctx);
    const other = await buildCustomer(ctx);
    const unknownHold = '00000000-0000-4000-8000-000000000000';
    const cases = [
      { method: 'POST', url: `/api/v1/holds/${unknownHold}/extend` },
      { method: 'DELETE', url: `/api/v1/holds/${unknownHold}` },
      { method: 'POST', url: `/api/v1/orders/${unknownHold}/cancel` },
      { method: 'POST', url: `/api/v1/holds/${unknownHold}/checkout`,
        payload: { paymentMethod: 'sim_ok' } },
    ] as const;
    for (const request of cases) {
      const send = (token: string, i: number) => app.inject({ ...request,
        headers: { ...bearer(token), 'idempotency-key': `rl-${i}` } });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await send(fan.token, i)).statusCode);
      expect(statuses, request.url).toEqual([404, 404, 429]);
      const limited = await send(fan.token, 9);
      expect(limited.json().code).toBe('rate_limited');
      expect(limited.headers['retry-after']).toBeDefined();
      // Another customer has their own allowance.
      expect((await send(other.token, 0)).statusCode).toBe(404);
    }
  });
});
