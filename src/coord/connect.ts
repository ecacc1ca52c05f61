/**
 * How a node reaches Redis: one server (`REDIS_URL`), a primary watched by Sentinels
 * (`REDIS_SENTINELS`), or a Redis Cluster (`REDIS_CLUSTER_NODES`). Every Redis client in
 * the product is opened here, so the coordinator and the HTTP rate limiter follow a
 * Sentinel failover or a cluster resharding the same way.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A `host:port` pair from a comma-separated list. */
export interface HostPort {
  host: string;
  port: number;
}

/** Where the coordination store is. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: readonly HostPort[]; masterName: string }
  | { kind: 'cluster'; nodes: readonly HostPort[] };

/** A connection to any of the three shapes; both classes share the command API. */
export type RedisConnection = Redis | Cluster;

/** Parses `host:port,host:port`; throws with the offending entry when one is malformed. */
export function parseHostPorts(list: string): HostPort[] {
  return list.split(',').map((part) => part.trim()).filter((part) => part !== '').map((part) => {
    const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(part);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65_535) throw new Error(`"${part}" is not host:port`);
    return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
  });
}

// A demoted primary answers writes with READONLY until the client reconnects to the new
// one: reconnect and resend the command (2) instead of failing it.
function reconnectOnReadonly(err: Error): 2 | false {
  return err.message.startsWith('READONLY') ? 2 : false;
}

/** Opens a client for the target with the given per-connection options. */
export function openRedis(target: RedisTarget, options: RedisOptions): RedisConnection {
  switch (target.kind) {
    case 'single':
      return new Redis(target.url, options);
    case 'sentinel':
      return new Redis({
        ...options,
        sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
        name: target.masterName,
        // Listen for +switch-master on the Sentinels instead of waiting for the old
        // primary's socket to drop: the new primary is used within milliseconds.
        failoverDetector: true,
        sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
        reconnectOnError: reconnectOnReadonly,
      });
    case 'cluster':
      return new Cluster(target.nodes.map(({ host, port }) => ({ host, port })), {
        redisOptions: options,
        enableOfflineQueue: options.enableOfflineQueue ?? true,
        clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
        // Slots move during a failover: follow MOVED/ASK a few times, then fail the call.
        maxRedirections: 8,
        retryDelayOnFailover: 100,
      });
  }
}

/** A short description for logs and the start-up banner (no credentials). */
export function describeTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'single': {
      const url = new URL(target.url);
      return `Redis ${url.hostname}:${url.port || 6379}`;
    }
    case 'sentinel':
      return `Redis via ${target.sentinels.length} Sentinels (master "${target.masterName}")`;
    case 'cluster':
      return `Redis Cluster (${target.nodes.length} seed nodes)`;
  }
}
