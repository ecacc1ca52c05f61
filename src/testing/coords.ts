/**
 * Coordinators for suites that run on both kinds (in-process and Redis) on a manual clock:
 * each Redis coordinator gets a key prefix of its own, deleted when the file ends.
 */
import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import type { Clock } from '../core/clock.js';
import { createMemoryCoordinator, createMemoryHub } from '../coord/memory.js';
import { createRedisCoordinator } from '../coord/redis.js';
import type { Coordinator } from '../coord/types.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from './services.js';

/** Which coordination a suite runs on. */
export type CoordKind = 'memory' | 'redis';

/**
 * For one test file: whether Redis is up (a required but unreachable Redis throws, as
 * `serviceAvailable` does) and a factory of coordinators of either kind whose keys are
 * removed after the file.
 */
export async function coordinatorsFor(name: string): Promise<{
  redisUp: boolean;
  coordinator: (kind: CoordKind, clock: Clock) => Coordinator;
}> {
  const redisUp = await serviceAvailable('Redis', testRedisUrl);
  const prefixes: string[] = [];
  afterAll(async () => {
    if (redisUp) for (const prefix of prefixes) await deleteRedisPrefix(prefix);
  });
  const coordinator = (kind: CoordKind, clock: Clock): Coordinator => {
    if (kind === 'memory') {
      return createMemoryCoordinator({ hub: createMemoryHub(() => clock.nowMs()) });
    }
    const prefix = `test:${name}:${randomUUID().slice(0, 8)}:`;
    prefixes.push(prefix);
    return createRedisCoordinator({
      url: testRedisUrl, prefix, name: `test-${name}`, logger: { warn: () => undefined },
    });
  };
  return { redisUp, coordinator };
}
