/**
 * The coordinator behind Redis Sentinel: a real primary, replica and three Sentinels (stock
 * redis-server / redis-sentinel on free high ports) started by this file. A failover moves
 * the primary; the coordinator must follow it without a restart, and writes must land on
 * the new primary (a write to the demoted one is refused with READONLY).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Supervisor, waitFor } from '../../cluster/procs.js';
import { redisCli, startSentinelSet, type SentinelSet } from '../../cluster/redis.js';
import { servicesRequired } from '../testing/services.js';
import { createRedisCoordinator, type CoordLogger } from './index.js';

function installed(): boolean {
  try {
    execFileSync('redis-sentinel', ['--version']);
    return true;
  } catch {
    if (servicesRequired) throw new Error('redis-sentinel is not installed');
    return false;
  }
}

const enabled = installed();
const dir = mkdtempSync(path.join(tmpdir(), 'stampede-sentinel-'));
const sup = new Supervisor(dir);
let set: SentinelSet | undefined;
if (enabled) {
  try {
    set = await startSentinelSet(sup, dir);
  } catch (error) {
    await sup.stopAll();
    throw error;
  }
}

afterAll(async () => {
  await sup.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const quiet: CoordLogger = { warn: () => {} };

describe.skipIf(!enabled)('coordinator through Redis Sentinel', () => {
  it('follows a Sentinel failover: counters, leases and pub/sub keep working', async () => {
    const sentinels = set!.sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
    const coord = createRedisCoordinator({
      target: { kind: 'sentinel', sentinels, masterName: set!.masterName },
      prefix: 'test:sentinel:', logger: quiet, name: 'test-sentinel',
    });
    try {
      const key = coord.keys.event('e1', 'n');
      expect(await coord.incr(key)).toBe(1);
      const before = await set!.currentPrimaryPort();
      // Replication is asynchronous and a forced failover does not wait for it: wait until
      // the replica holds the increment, or the promoted replica may rightly not have it.
      const replica = set!.servers.find((s) => s.port !== before)!.port;
      await waitFor('the increment on the replica', async () =>
        (await redisCli(replica, 'GET', key)) === '1', 15_000);

      // A Sentinel refuses FAILOVER while it judges no replica fit yet (NOGOODSLAVE, or a
      // failover already in progress): ask again every few seconds until one happens.
      let askedAt = 0;
      await waitFor('Sentinels to name a new primary', async () => {
        if ((await set!.currentPrimaryPort()) !== before) return true;
        if (performance.now() - askedAt > 5_000) {
          askedAt = performance.now();
          await redisCli(set!.sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', set!.masterName);
        }
        return false;
      }, 45_000);
      const after = await set!.currentPrimaryPort();
      // The control: the old primary now refuses writes, so a client that did not follow
      // the failover would fail here.
      await waitFor('old primary demoted', async () =>
        (await redisCli(before, 'ROLE')).startsWith('slave'), 30_000);
      expect(await redisCli(before, 'SET', 'test:sentinel:x', '1')).toMatch(/READONLY/);

      // The increment replicated before the failover; writes now go to the new primary.
      let value = 0;
      await waitFor('a write through the coordinator', async () => {
        value = await coord.incr(key);
        return true;
      }, 30_000);
      // At least 2 (a retried call may have landed twice), and on the new primary.
      expect(value).toBeGreaterThanOrEqual(2);
      expect(Number(await redisCli(after, 'GET', key))).toBeGreaterThanOrEqual(value);
      expect(await coord.acquireLease('sentinel-duty', 'node-a', 5_000)).not.toBeNull();
      const received: string[] = [];
      const channel = coord.keys.event('e1', 'ch');
      await coord.subscribe(channel, (m) => void received.push(m));
      await waitFor('pub/sub after failover', async () => {
        await coord.publish(channel, 'hello');
        return received.includes('hello');
      }, 15_000);
    } finally {
      await coord.close();
    }
  }, 120_000);
});
