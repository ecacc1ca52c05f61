/**
 * Test contexts and apps: a real database (from a backend), in-process or Redis
 * coordination, a silent logger, and a clock the test controls when it wants to.
 */
import { pino } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import type { AppContext, TestSeams } from '../context.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Coordinator } from '../coord/types.js';
import type { Guard } from '../holds/claim.js';
import type { CheckoutGuard } from '../orders/checkoutBatch.js';
import type { SettleGuard } from '../orders/settleBatch.js';
import type { OfferGuard } from '../waitlist/offers.js';
import { CustomerTokens } from '../customers/tokens.js';
import { buildApp } from '../http/app.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';

export const testAdminToken = 'test-admin-token-0123456789';
export const testSecret = 'test-secret-0123456789abcdef';

export interface TestContextOptions {
  clock?: Clock;
  coord?: Coordinator;
  env?: Record<string, string>;
  /** Remove one production guard (a race test's control only). */
  unguarded?: Guard | CheckoutGuard | SettleGuard | OfferGuard;
  /** Test seams (checkout, hold batches). */
  seams?: TestSeams;
}

/** A context over `db` with test defaults (high rate limits, fixed secrets). */
export function buildTestContext(db: Db, options: TestContextOptions = {}): AppContext {
  const config: Config = loadConfig({
    STAMPEDE_ADMIN_TOKEN: testAdminToken,
    STAMPEDE_SECRET: testSecret,
    STAMPEDE_DATA_DIR: '/tmp/stampede-test-unused',
    RATE_LIMIT_WRITES_PER_IP: '1000000',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const clock = options.clock ?? systemClock;
  return {
    config,
    db,
    coord: options.coord ?? createMemoryCoordinator({}),
    clock,
    secrets: { secret: testSecret, adminToken: testAdminToken, adminTokenGenerated: false },
    tokens: new CustomerTokens(testSecret, () => clock.nowMs()),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...(options.unguarded === undefined ? {} : { unguarded: options.unguarded }),
    ...(options.seams === undefined ? {} : { seams: options.seams }),
  };
}

/** Builds the HTTP app over a test context; close it with `app.close()`. */
export async function buildTestApp(db: Db, options: TestContextOptions = {}): Promise<{
  app: App; ctx: AppContext;
}> {
  const ctx = buildTestContext(db, options);
  const app = await buildApp(ctx);
  await app.ready();
  return { app, ctx };
}

/** Authorization header for the admin token. */
export const adminHeaders = { authorization: `Bearer ${testAdminToken}` };
