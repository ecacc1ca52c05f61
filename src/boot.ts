/**
 * Builds an AppContext from configuration: opens the database (and migrates it), the
 * coordinator, the logger and the secrets. The one place that wires concrete parts.
 */
import { pino, type Logger } from 'pino';
import type { Config } from './config/index.js';
import { resolveSecrets } from './config/secrets.js';
import type { AppContext } from './context.js';
import { systemClock, type Clock } from './core/clock.js';
import { createCoordinator } from './coord/index.js';
import { claimKeyspace, type KeyspaceClaim } from './coord/keyspaceClaim.js';
import { FailoverLeases } from './coord/pgLease.js';
import { CustomerTokens } from './customers/tokens.js';
import { migrate, openDb, type Db } from './storage/index.js';
import { createPostgresDb } from './storage/postgres.js';

export interface BootOptions {
  clock?: Clock;
  logger?: Logger;
}

/** Opens everything a node needs. Call `shutdown` to close it in reverse order. */
export async function boot(config: Config, options: BootOptions = {}): Promise<AppContext> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const db = await openDb(config, (error) => logger.warn({ err: error }, 'database pool error'));
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  } catch (error) {
    await db.close();
    throw error;
  }
  // A smaller pool: display reads are short and the per-node caches absorb most of them.
  const readDb = config.databaseReadUrl === undefined ? undefined : createPostgresDb({
    url: config.databaseReadUrl, ...config.pg,
    poolMax: Math.max(2, Math.ceil(config.pg.poolMax / 2)),
    onError: (error) => logger.warn({ err: error }, 'read replica pool error'),
  });
  const coord = createCoordinator({ redis: config.redis, prefix: config.redisKeyPrefix, logger });
  let keyspaceClaim: KeyspaceClaim | undefined;
  if (coord.kind === 'redis') {
    try {
      keyspaceClaim = await claimKeyspace(coord, await deploymentId(db), logger);
    } catch (error) {
      await coord.close();
      await readDb?.close();
      await db.close();
      throw error;
    }
  }
  const leases = config.databaseUrl !== undefined && coord.kind === 'redis'
    ? new FailoverLeases({ coord, db, databaseUrl: config.databaseUrl, logger })
    : undefined;
  const secrets = resolveSecrets(config);
  const tokens = new CustomerTokens(secrets.secret, () => clock.nowMs());
  return { config, db, readDb, coord, keyspaceClaim, leases, clock, secrets, tokens, logger };
}

/** This deployment's identity: the one row every node sharing the database reads. */
async function deploymentId(db: Db): Promise<string> {
  const { rows } = await db.query<{ deployment_id: string }>(
    'SELECT deployment_id FROM deployment');
  const id = rows[0]?.deployment_id;
  if (id === undefined) throw new Error('assertion failed: the deployment row is missing');
  return id;
}

/** Closes what boot opened. */
export async function shutdown(ctx: AppContext): Promise<void> {
  ctx.keyspaceClaim?.stop();
  await ctx.coord.close();
  await ctx.db.close();
  await ctx.readDb?.close();
}
