/**
 * Log out everywhere: every token of the customer stops working, at once on the node that
 * revoked and within the version cache's few seconds on another node; other customers and a
 * fresh login are unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer } from '../testing/factories.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`logout on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let other: App;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
      ({ app: other } = await buildTestApp(db)); // a second node on the same database
    });
    afterAll(async () => {
      await other?.close();
      await app?.close();
      await db?.close();
    });

    const login = async (email: string, password: string) => (await app.inject({
      method: 'POST', url: '/api/v1/sessions', payload: { email, password } })).json().token;
    const myOrders = (on: App, token: string) => on.inject({ method: 'GET',
      url: '/api/v1/me/orders', headers: bearer(token) });

    it('revokes every token of the customer, and only theirs', async () => {
      const fan = await buildCustomer(ctx);
      const bystander = await buildCustomer(ctx);
      const phone = await login(fan.email, fan.password);
      const laptop = await login(fan.email, fan.password);
      expect((await myOrders(other, laptop)).statusCode).toBe(200); // cached as valid there
      const out = await app.inject({ method: 'DELETE', url: '/api/v1/sessions',
        headers: bearer(phone) });
      expect(out.statusCode).toBe(204);
      for (const token of [phone, laptop, fan.token]) {
        const refused = await myOrders(app, token);
        expect(refused.statusCode).toBe(401);
        expect(refused.json().code).toBe('unauthorized');
      }
      // The other node honours it once its cached version ages out (a few seconds).
      const deadline = Date.now() + 30_000;
      let status = 200;
      while (status !== 401 && Date.now() < deadline) {
        status = (await myOrders(other, laptop)).statusCode;
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(status).toBe(401);
      expect((await myOrders(app, bystander.token)).statusCode).toBe(200);
      const fresh = await login(fan.email, fan.password);
      expect((await myOrders(app, fresh)).statusCode).toBe(200);
      expect((await myOrders(other, fresh)).statusCode).toBe(200);
    });
  });
}
