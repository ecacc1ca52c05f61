/**
 * Redis for the local cluster, from the stock `redis-server` and `redis-sentinel`:
 * a primary with one replica watched by three Sentinels (quorum 2), or a Redis Cluster of
 * three primaries. No persistence: Redis only accelerates and fans out, PostgreSQL decides.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePorts, portOpen, waitFor, type Supervisor } from './procs.js';

const run = promisify(execFile);

/** A `redis-cli` call against 127.0.0.1:port; resolves with its trimmed output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args],
    { timeout: 10_000 });
  return stdout.trim();
}

function startServer(sup: Supervisor, name: string, port: number, dir: string,
  extra: string[] = []): void {
  mkdirSync(dir, { recursive: true });
  sup.start(name, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'no', '--protected-mode', 'no', ...extra,
  ]);
}

/** A primary, its replica and three Sentinels. */
export interface SentinelSet {
  masterName: string;
  sentinelPorts: number[];
  /** Process names by role at start (a failover swaps which one is primary). */
  servers: { name: string; port: number }[];
  /** The primary the Sentinels currently name. */
  currentPrimaryPort(): Promise<number>;
}

/** Starts the replicated pair and the Sentinels; resolves when the Sentinels agree. */
export async function startSentinelSet(sup: Supervisor, dir: string,
  masterName = 'stampede'): Promise<SentinelSet> {
  const [primary, replica, ...sentinelPorts] = await freePorts(5) as [number, number, ...number[]];
  startServer(sup, 'redis-a', primary, path.join(dir, 'redis-a'));
  startServer(sup, 'redis-b', replica, path.join(dir, 'redis-b'),
    ['--replicaof', '127.0.0.1', String(primary)]);
  sentinelPorts.forEach((port, i) => {
    const home = path.join(dir, `sentinel-${i + 1}`);
    mkdirSync(home, { recursive: true });
    // Sentinels rewrite their own file (known replicas, epochs), so each has a copy.
    const file = path.join(home, 'sentinel.conf');
    writeFileSync(file, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${home}`, 'protected-mode no',
      `sentinel monitor ${masterName} 127.0.0.1 ${primary} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'));
    sup.start(`sentinel-${i + 1}`, 'redis-sentinel', [file]);
  });
  const set: SentinelSet = {
    masterName, sentinelPorts,
    servers: [{ name: 'redis-a', port: primary }, { name: 'redis-b', port: replica }],
    async currentPrimaryPort() {
      for (const port of sentinelPorts) {
        try {
          const reply = await redisCli(port, 'SENTINEL', 'get-master-addr-by-name', masterName);
          const found = Number(reply.split('\n')[1]);
          if (found > 0) return found;
        } catch {
          // try the next Sentinel
        }
      }
      throw new Error('no Sentinel answered');
    },
  };
  await waitFor('redis replica in sync', async () =>
    (await redisCli(replica, 'INFO', 'replication')).includes('master_link_status:up'));
  await waitFor('three Sentinels aware of each other', async () => {
    const replies = await Promise.all(sentinelPorts.map((port) =>
      redisCli(port, 'SENTINEL', 'master', masterName)));
    return replies.every((reply) => /num-other-sentinels\n2(\n|$)/.test(reply));
  });
  return set;
}

/** A Redis Cluster of primaries; `nodes` are the client seed addresses. */
export interface RedisClusterSet {
  ports: number[];
}

/** Starts `masters` cluster-enabled servers, assigns all 16,384 slots, waits for `ok`. */
export async function startRedisCluster(sup: Supervisor, dir: string, masters = 3):
  Promise<RedisClusterSet> {
  const picked = await freePorts(masters * 2);
  const ports = picked.slice(0, masters);
  // The bus port is set explicitly: the default (port + 10000) may be past 65535.
  ports.forEach((port, i) => {
    const home = path.join(dir, `cluster-${i + 1}`);
    startServer(sup, `redis-cluster-${i + 1}`, port, home, [
      '--cluster-enabled', 'yes', '--cluster-config-file', path.join(home, 'nodes.conf'),
      '--cluster-node-timeout', '2000', '--cluster-port', String(picked[masters + i]),
    ]);
  });
  await waitFor('cluster nodes listening', async () =>
    (await Promise.all(ports.map((port) => portOpen(port)))).every(Boolean));
  await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
  await waitFor('cluster state ok', async () => {
    const infos = await Promise.all(ports.map((port) => redisCli(port, 'CLUSTER', 'INFO')));
    return infos.every((info) => info.includes('cluster_state:ok'));
  });
  return { ports };
}
