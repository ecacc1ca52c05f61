/**
 * Write rate limits over HTTP, on in-process and Redis coordination: a join takes the
 * app-wide address budget, its own address bucket and the fan's bucket together, and
 * counts only when all three allow. A fan behind a busy shared address keeps their own
 * allowance; a fan's refused retries do not spend their neighbours' address budget; joins
 * and other writes share one address budget, taken once per join.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator, createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent } from '../testing/factories.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';
import type { App } from './types.js';

const backends = await testBackends();
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const quiet = { warn: () => undefined };

const shapes = [
  { name: 'PGlite, in-process coordination', backend: 'pglite', redis: false },
  { name: 'PostgreSQL + Redis', backend: 'postgres', redis: true },
] as const;

for (const shape of shapes) {
  const backend = backends.find((candidate) => candidate.name === shape.backend);
  const available = backend?.available === true && (!shape.redis || redisUp);

  describe.skipIf(!available)(`write rate limits, ${shape.name}`, () => {
    const prefixes: string[] = [];
    const coords: Coordinator[] = [];
    const apps: App[] = [];
    let db: Db;

    beforeAll(async () => {
      db = await (backend as NonNullable<typeof backend>).open();
    });
    afterAll(async () => {
      await Promise.all(apps.map((app) => app.close()));
      await Promise.all(coords.map((coord) => coord.close().catch(() => undefined)));
      for (const prefix of prefixes) await deleteRedisPrefix(prefix);
      await db?.close();
    });

    /** An app of its own (fresh buckets) with these limits, and a queued event on it. */
    async function appWith(env: Record<string, string>, adjust?: (coord: Coordinator) => void):
    Promise<{
      app: App; ctx: AppContext; eventId: string;
    }> {
      let coord: Coordinator;
      if (shape.redis) {
        const prefix = `stampede-test-limits-${randomBytes(4).toString('hex')}:`;
        prefixes.push(prefix);
        coord = createRedisCoordinator({ url: testRedisUrl, prefix, name: 'test-limits',
          logger: quiet });
      } else {
        coord = createMemoryCoordinator({});
      }
      coords.push(coord);
      adjust?.(coord);
      const { app, ctx } = await buildTestApp(db, { coord, env });
      apps.push(app);
      const event = await buildEvent(ctx, {
        queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 2 },
      });
      return { app, ctx, eventId: event.eventId };
    }

    function joiner(app: App, eventId: string) {
      return async (token: string, from: string): Promise<number> => (await app.inject({
        method: 'POST', url: `/api/v1/events/${eventId}/queue`, headers: bearer(token),
        remoteAddress: from,
      })).statusCode;
    }

    it('a fan refused by a busy shared address keeps their own allowance', async () => {
      const { app, ctx, eventId } = await appWith({
        RATE_LIMIT_JOINS_PER_IP: '3', RATE_LIMIT_JOINS_PER_CUSTOMER: '2',
      });
      const join = joiner(app, eventId);
      const [a, b, c, fan] = await buildCustomers(ctx, 4);
      const venue = '10.0.0.1';
      const others = [await join(a!.token, venue), await join(b!.token, venue),
        await join(c!.token, venue)];
      expect(others).toEqual([201, 201, 201]);
      // The venue's address is spent: the fan is refused there, three times.
      for (let i = 0; i < 3; i += 1) expect(await join(fan!.token, venue)).toBe(429);
      // On another address the fan still has both of their own (that address has three).
      const home = '10.0.0.2';
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push(await join(fan!.token, home));
      expect(statuses).toEqual([201, 200, 429]);
    });

    it('a fan\'s refused retries do not spend their address\'s budget', async () => {
      const { app, ctx, eventId } = await appWith({
        RATE_LIMIT_JOINS_PER_IP: '3', RATE_LIMIT_JOINS_PER_CUSTOMER: '1',
      });
      const join = joiner(app, eventId);
      const [eager, b, c, d] = await buildCustomers(ctx, 4);
      const venue = '10.0.1.1';
      expect(await join(eager!.token, venue)).toBe(201);
      for (let i = 0; i < 5; i += 1) expect(await join(eager!.token, venue)).toBe(429);
      // The address spent one token (the granted join), not six.
      expect([await join(b!.token, venue), await join(c!.token, venue)]).toEqual([201, 201]);
      expect(await join(d!.token, venue)).toBe(429);
    });

    it('fails open: a store that cannot take the buckets lets the join through', async () => {
      const { app, ctx, eventId } = await appWith({ RATE_LIMIT_JOINS_PER_CUSTOMER: '1' },
        (coord) => {
          coord.consumeEach = async () => {
            throw new Error('the store is away');
          };
        });
      const join = joiner(app, eventId);
      const [fan] = await buildCustomers(ctx, 1);
      // Over the fan's limit of one, and still through: nothing could count the joins.
      expect([await join(fan!.token, '10.0.3.1'), await join(fan!.token, '10.0.3.1')])
        .toEqual([201, 200]);
    });

    it('joins and other writes share one address budget, taken once per join', async () => {
      const { app, ctx, eventId } = await appWith({ RATE_LIMIT_WRITES_PER_IP: '3' });
      const join = joiner(app, eventId);
      const [a, b, c] = await buildCustomers(ctx, 3);
      const from = '10.0.2.1';
      const login = async (): Promise<number> => (await app.inject({
        method: 'POST', url: '/api/v1/sessions', remoteAddress: from,
        payload: { email: 'nobody@example.com', password: 'not the password' },
      })).statusCode;
      // Two joins and a login are the address's three writes...
      expect([await join(a!.token, from), await join(b!.token, from), await login()])
        .toEqual([201, 201, 401]);
      // ...so the next write of either kind is refused, with Retry-After.
      expect(await join(c!.token, from)).toBe(429);
      const refused = await app.inject({
        method: 'POST', url: '/api/v1/sessions', remoteAddress: from,
        payload: { email: 'nobody@example.com', password: 'not the password' },
      });
      expect(refused.statusCode).toBe(429);
      expect(refused.json().code).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Another address is not affected.
      expect(await join(c!.token, '10.0.2.2')).toBe(201);
    });
  });
}
