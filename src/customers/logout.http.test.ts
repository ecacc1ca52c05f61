/**
 * Log out everywhere: every token of the customer stops working, at once on the node that
 * revoked and, through the coordination channel, on every other node sharing it; a node that
 * does not hear the revocation (the control) keeps its cached version only until it ages
 * out. Other customers and a fresh login are unaffected. Token versions are cached, so a
 * run of authenticated requests costs one version query, not one each.
 *
 * The nodes' clock is held still, so no cached version ages out unless a test moves it:
 * a refusal on another node can only come from the published revocation.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import type { Clock } from '../core/clock.js';
import {
  createMemoryCoordinator, createMemoryHub, createRedisCoordinator, type Coordinator,
} from '../coord/index.js';
import { tokenVersions } from '../http/auth.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer } from '../testing/factories.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';

const backends = await testBackends();
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const quiet = { warn: () => undefined };

const shapes = [
  { name: 'PGlite, in-process coordination', backend: 'pglite', redis: false },
  { name: 'PostgreSQL + Redis', backend: 'postgres', redis: true },
] as const;

const versionQuery = /SELECT customer_id, token_version FROM customers/;

for (const shape of shapes) {
  const backend = backends.find((candidate) => candidate.name === shape.backend);
  const available = backend?.available === true && (!shape.redis || redisUp);

  describe.skipIf(!available)(`logout, ${shape.name}`, () => {
    const prefix = `stampede-test-logout-${randomBytes(4).toString('hex')}:`;
    const otherPrefix = `stampede-test-logout-${randomBytes(4).toString('hex')}:`;
    let nowMs = Date.now();
    const clock: Clock = { nowMs: () => nowMs };
    const hub = createMemoryHub();
    const coords: Coordinator[] = [];
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let other: App;
    let deaf: App;
    let versionQueries = 0;

    function coordinator(name: string, keyPrefix: string, shared: boolean): Coordinator {
      const coord = shape.redis
        ? createRedisCoordinator({ url: testRedisUrl, prefix: keyPrefix,
          name: `test-logout-${name}`, logger: quiet })
        : createMemoryCoordinator(shared ? { hub } : {});
      coords.push(coord);
      return coord;
    }

    async function node(coord: Coordinator): Promise<{ app: App; ctx: AppContext }> {
      const built = await buildTestApp(db, { coord, clock });
      await tokenVersions(built.ctx).listening();
      return built;
    }

    beforeAll(async () => {
      db = await (backend as NonNullable<typeof backend>).open();
      const query = db.query.bind(db);
      db.query = async (sql, params) => {
        if (versionQuery.test(sql)) versionQueries += 1;
        return await query(sql, params);
      };
      ({ app, ctx } = await node(coordinator('one', prefix, true)));
      // A second node on the same database and coordination.
      ({ app: other } = await node(coordinator('two', prefix, true)));
      // The control: same database, coordination of its own, so it hears no revocation.
      ({ app: deaf } = await node(coordinator('deaf', otherPrefix, false)));
    });
    afterAll(async () => {
      await deaf?.close();
      await other?.close();
      await app?.close();
      await Promise.all(coords.map((coord) => coord.close().catch(() => undefined)));
      if (shape.redis) {
        await deleteRedisPrefix(prefix);
        await deleteRedisPrefix(otherPrefix);
      }
      await db?.close();
    });

    const login = async (email: string, password: string) => (await app.inject({
      method: 'POST', url: '/api/v1/sessions', payload: { email, password } })).json().token;
    const myOrders = (on: App, token: string) => on.inject({ method: 'GET',
      url: '/api/v1/me/orders', headers: bearer(token) });

    /** Asks until the answer is `status` or the deadline passes; returns the last one. */
    async function eventually(on: App, token: string, status: number): Promise<number> {
      const deadline = Date.now() + 10_000;
      let last = (await myOrders(on, token)).statusCode;
      while (last !== status && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
        last = (await myOrders(on, token)).statusCode;
      }
      return last;
    }

    it('revokes every token of the customer on every node, and only theirs', async () => {
      const fan = await buildCustomer(ctx);
      const bystander = await buildCustomer(ctx);
      const phone = await login(fan.email, fan.password);
      const laptop = await login(fan.email, fan.password);
      for (const on of [other, deaf]) {
        expect((await myOrders(on, laptop)).statusCode).toBe(200); // cached as valid there
      }
      const out = await app.inject({ method: 'DELETE', url: '/api/v1/sessions',
        headers: bearer(phone) });
      expect(out.statusCode).toBe(204);
      for (const token of [phone, laptop, fan.token]) {
        const refused = await myOrders(app, token);
        expect(refused.statusCode).toBe(401);
        expect(refused.json().code).toBe('unauthorized');
      }
      // The clock stands still: only the published revocation can reach the other node.
      expect(await eventually(other, laptop, 401)).toBe(401);
      // Control: a node that did not hear it still trusts its cached version...
      expect((await myOrders(deaf, laptop)).statusCode).toBe(200);
      // ...until the entry ages out: the bound when a message is lost.
      nowMs += limits.tokenVersionCacheMs;
      expect((await myOrders(deaf, laptop)).statusCode).toBe(401);

      expect((await myOrders(app, bystander.token)).statusCode).toBe(200);
      expect((await myOrders(other, bystander.token)).statusCode).toBe(200);
      const fresh = await login(fan.email, fan.password);
      for (const on of [app, other, deaf]) {
        expect((await myOrders(on, fresh)).statusCode).toBe(200);
      }
    });

    it('answers repeated requests from the cached version, one query per lifetime', async () => {
      const fan = await buildCustomer(ctx);
      const requests = 10;
      const before = versionQueries;
      for (let i = 0; i < requests; i += 1) {
        expect((await myOrders(app, fan.token)).statusCode).toBe(200);
      }
      expect(versionQueries - before).toBe(1);
      // Control: the same requests each after the cached version aged out query every time.
      const uncached = versionQueries;
      for (let i = 0; i < requests; i += 1) {
        nowMs += limits.tokenVersionCacheMs;
        expect((await myOrders(app, fan.token)).statusCode).toBe(200);
      }
      expect(versionQueries - uncached).toBe(requests);
    });
  });
}
