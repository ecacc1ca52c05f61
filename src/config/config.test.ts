import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('defaults to the embedded shape', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.paymentProvider).toBe('simulated');
    expect([...config.roles].sort()).toEqual(['api', 'realtime', 'worker']);
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });

  it('reads the server shape', () => {
    const config = loadConfig({
      PORT: '8080', DATABASE_URL: 'postgres://db/stampede', REDIS_URL: 'redis://cache:6379',
      ROLES: 'api, realtime', LOG_LEVEL: 'warn', PAYMENT_PROVIDER: 'simulated',
      STAMPEDE_SECRET: 'a-cluster-wide-secret-0123',
    });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('postgres://db/stampede');
    expect(config.redisUrl).toBe('redis://cache:6379');
    expect([...config.roles].sort()).toEqual(['api', 'realtime']);
    expect(config.logLevel).toBe('warn');
  });

  it('logs requests by default, except in production', () => {
    expect(loadConfig({}).http.logRequests).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).http.logRequests).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', LOG_REQUESTS: 'true' }).http.logRequests)
      .toBe(true);
  });

  it('reads Redis as one server, Sentinels or a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379' }).redis)
      .toEqual({ kind: 'single', url: 'redis://cache:6379' });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379, [::1]:26380' }).redis).toEqual({
      kind: 'sentinel', masterName: 'stampede',
      sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }],
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000,r2:7001' }).redis).toEqual({
      kind: 'cluster', nodes: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 7001 }],
    });
    expect(loadConfig({}).redis).toBeUndefined();
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://cache' }, 'REDIS_URL'],
    [{ PAYMENT_PROVIDER: 'paypal' }, 'PAYMENT_PROVIDER'],
    [{ PAYMENT_PROVIDER: 'stripe' }, 'STRIPE_SECRET_KEY'],
    [{ PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_x' }, 'STRIPE_WEBHOOK_SECRET'],
    [{ ROLES: 'api,janitor' }, 'ROLES'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ STAMPEDE_SECRET: 'short' }, 'STAMPEDE_SECRET'],
    [{ STAMPEDE_ADMIN_TOKEN: 'short' }, 'STAMPEDE_ADMIN_TOKEN'],
    [{ PG_POOL_MAX: '0' }, 'PG_POOL_MAX'],
    [{ METRICS_ACCESS: 'token' }, 'METRICS_TOKEN'],
    [{ METRICS_ACCESS: 'sometimes' }, 'METRICS_ACCESS'],
    [{ REDIS_SENTINELS: 'sentinel-without-port' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_URL: 'redis://cache' }, 'REDIS_SENTINELS'],
    [{ REDIS_CLUSTER_NODES: 'a:99999' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'bad name' }, 'REDIS_SENTINEL_MASTER'],
    // With a database server, the gateway and the signing key are never defaulted.
    [{ DATABASE_URL: 'postgres://db/x', STAMPEDE_SECRET: 'a-cluster-wide-secret-0123' },
      'PAYMENT_PROVIDER'],
    [{ DATABASE_URL: 'postgres://db/x', PAYMENT_PROVIDER: 'simulated' }, 'STAMPEDE_SECRET'],
    [{ DATABASE_URL: 'postgres://db/x', PAYMENT_PROVIDER: ' ',
      STAMPEDE_SECRET: 'a-cluster-wide-secret-0123' }, 'PAYMENT_PROVIDER'],
  ])('rejects %o naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });
});
