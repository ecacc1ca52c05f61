/**
 * Coordination between nodes: Redis (one server, Sentinels or a cluster) when configured,
 * in-process otherwise.
 */
import { createMemoryCoordinator } from './memory.js';
import { createRedisCoordinator } from './redis.js';
import type { RedisTarget } from './connect.js';
import type { Coordinator, CoordLogger } from './types.js';

export type {
  BucketLimit,
  BucketResult,
  Coordinator,
  CoordLogger,
  SetOptions,
  Unsubscribe,
} from './types.js';
export { createKeyspace, DEFAULT_PREFIX, eventKey, globalKey, type Keyspace } from './keys.js';
export {
  createMemoryCoordinator,
  createMemoryHub,
  MemoryHub,
  type MemoryCoordinatorOptions,
} from './memory.js';
export { createRedisCoordinator, type RedisCoordinatorOptions } from './redis.js';
export {
  describeTarget,
  openRedis,
  parseHostPorts,
  type HostPort,
  type RedisConnection,
  type RedisTarget,
} from './connect.js';
export {
  LeaderElector,
  type LeaderElectorOptions,
  type LeadershipChange,
  type LostReason,
} from './leader.js';

/** What picks and configures the coordinator; mirrors the REDIS_URL setting. */
export interface CoordinatorConfig {
  /** Unset (and no `redis`): in-process (embedded, single node). */
  redisUrl?: string;
  /** Redis by URL, Sentinels or cluster; wins over `redisUrl`. */
  redis?: RedisTarget;
  prefix?: string;
  logger?: CoordLogger;
  /** Connection name shown in Redis CLIENT LIST, e.g. the node id. */
  name?: string;
}

/** Redis when a URL is configured, otherwise the in-process coordinator. */
export function createCoordinator(config: CoordinatorConfig = {}): Coordinator {
  const { redisUrl, prefix, logger, name } = config;
  const target: RedisTarget | undefined = config.redis
    ?? (redisUrl ? { kind: 'single', url: redisUrl } : undefined);
  if (target === undefined) return createMemoryCoordinator({ prefix, logger });
  return createRedisCoordinator({ target, prefix, logger, name });
}
