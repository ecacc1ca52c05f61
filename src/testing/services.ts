/**
 * Where tests find the real backing services, and what to do when one is down.
 *
 * Locally a missing PostgreSQL or Redis skips the suites that need it; with
 * STAMPEDE_REQUIRE_SERVICES=1 (set by .ci/run) an unreachable service fails the run instead,
 * so CI never silently skips a real-service test.
 */
import net from 'node:net';

export const testDatabaseUrl =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const servicesRequired = process.env.STAMPEDE_REQUIRE_SERVICES === '1';

/** True when a TCP connection to the URL's host and port opens within the timeout. */
export async function reachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol.startsWith('redis') ? 6379 : 5432));
  const host = parsed.hostname || '127.0.0.1';
  return await new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Decides whether a suite needing `url` runs. Returns true to run, false to skip;
 * throws when the service is required but down.
 */
export async function serviceAvailable(name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  if (servicesRequired) {
    throw new Error(`${name} at ${url} is unreachable and STAMPEDE_REQUIRE_SERVICES=1`);
  }
  console.warn(`[tests] ${name} at ${url} unreachable: skipping its suites`);
  return false;
}

/**
 * Deletes every key under `prefix` on the test Redis: a flush scoped to one test file,
 * never a FLUSHALL of the shared server. Returns how many keys it deleted.
 */
export async function deleteRedisPrefix(prefix: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const admin = new Redis(testRedisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      if (keys.length > 0) deleted += await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
  return deleted;
}
