/**
 * Two deployments (two databases) pointed at one Redis with the same key prefix: the second
 * refuses to start instead of sharing the first one's leases, queues and rate limits. Nodes
 * of one deployment share the prefix freely, and a claim lapses once its deployment stops.
 * Real PostgreSQL databases and a real Redis, through `boot` as `stampede serve` runs it.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

import { boot, shutdown } from '../boot.js';
import { loadConfig } from '../config/index.js';
import type { AppContext } from '../context.js';
import {
  deleteRedisPrefix, serviceAvailable, testDatabaseUrl, testRedisUrl,
} from '../testing/services.js';
import { createRedisCoordinator } from './index.js';
import { claimKeyspace, KeyspaceTakenError } from './keyspaceClaim.js';

const up = await serviceAvailable('PostgreSQL', testDatabaseUrl)
  && await serviceAvailable('Redis', testRedisUrl);
/** Every key this file writes sits under this prefix, deleted once the file is done. */
const filePrefix = `test:ks:${randomBytes(4).toString('hex')}:`;
const created: string[] = [];
const booted: AppContext[] = [];

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database (boot migrates it): one deployment. */
async function freshDatabase(): Promise<string> {
  const name = `stampede_t_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  created.push(name);
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Boots a node as `stampede serve` would, on `databaseUrl` and the test Redis. */
async function bootNode(databaseUrl: string, prefix: string): Promise<AppContext> {
  const ctx = await boot(loadConfig({
    DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, REDIS_KEY_PREFIX: prefix,
    PAYMENT_PROVIDER: 'simulated', STAMPEDE_SECRET: 'keyspace-test-secret-0123456789',
    STAMPEDE_ADMIN_TOKEN: 'keyspace-test-admin-0123456789', LOG_LEVEL: 'silent',
    STAMPEDE_SEED_DEMO: 'false',
  }));
  booted.push(ctx);
  return ctx;
}

afterAll(async () => {
  for (const ctx of booted.splice(0)) await shutdown(ctx);
  for (const name of created.splice(0)) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  if (up) await deleteRedisPrefix(filePrefix);
});

describe.runIf(up)('one deployment per Redis key prefix', () => {
  it('refuses a second deployment on the prefix, admits the same one and another prefix',
    async () => {
      const prefix = `${filePrefix}a:`;
      const [first, second] = [await freshDatabase(), await freshDatabase()];
      await bootNode(first, prefix);
      // Another node of the same deployment (same database) shares the prefix.
      await expect(bootNode(first, prefix)).resolves.toBeDefined();
      // Another deployment on the same prefix is refused, naming the variable to set.
      const refused = bootNode(second, prefix);
      await expect(refused).rejects.toBeInstanceOf(KeyspaceTakenError);
      await expect(refused).rejects.toThrow(/REDIS_KEY_PREFIX/);
      // ... and starts on a prefix of its own.
      await expect(bootNode(second, `${prefix}other:`)).resolves.toBeDefined();
    });

  it('lets the prefix go once the deployment holding it stops renewing', async () => {
    const coord = createRedisCoordinator({
      url: testRedisUrl, prefix: `${filePrefix}b:`,
    });
    const logged: string[] = [];
    const logger = { warn: (_o: object, m: string) => void logged.push(m),
      error: (_o: object, m: string) => void logged.push(m) };
    try {
      const claim = await claimKeyspace(coord, 'deployment-a', logger, 400);
      await expect(claimKeyspace(coord, 'deployment-b', logger, 400))
        .rejects.toBeInstanceOf(KeyspaceTakenError);
      // Control: while A renews, B stays refused past several TTLs.
      await sleep(1_000);
      await expect(claimKeyspace(coord, 'deployment-b', logger, 400))
        .rejects.toBeInstanceOf(KeyspaceTakenError);
      claim.stop();
      let taken: Awaited<ReturnType<typeof claimKeyspace>> | undefined;
      for (let tries = 0; taken === undefined && tries < 50; tries += 1) {
        taken = await claimKeyspace(coord, 'deployment-b', logger, 400).catch(() => undefined);
        if (taken === undefined) await sleep(100);
      }
      expect(taken).toBeDefined();
      taken?.stop();
      expect(logged).toEqual([]);
    } finally {
      await coord.close();
    }
  });
});
