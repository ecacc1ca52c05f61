/**
 * The local cluster: HAProxy in front of three Stampede nodes, PostgreSQL primary plus a
 * synchronous standby under Patroni (etcd), Redis primary plus replica under three
 * Sentinels. Everything listens on 127.0.0.1 on free high ports, keeps its data and logs
 * under one temporary folder, and is torn down by `stop()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { startHaproxy, type Balancer } from './haproxy.js';
import { startPatroni, type PatroniSet } from './postgres.js';
import { FatalWait, freePorts, Supervisor, waitFor } from './procs.js';
import { startSentinelSet, type SentinelSet } from './redis.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** How to shape the cluster. */
export interface ClusterOptions {
  nodes?: number;
  /**
   * Nodes (by name, `node1`…) that take the waiting room's requests (joins, the line's
   * stream, waitlist moves) while the others take the store's, each pool backing the other
   * up (HAProxy; docs/OPERATIONS.md). Empty: one pool.
   */
  waitingRoom?: readonly string[];
  /** Extra environment for every node (e.g. lifted per-address limits for a simulator). */
  nodeEnv?: Record<string, string>;
  /** Keep the data folder after stop (for reading logs). */
  keep?: boolean;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /** Receives the teardown at once, so a signal during start-up can still clean up. */
  onTeardown?: (stop: () => Promise<void>) => void;
}

/** One Stampede node. */
export interface NodeInfo {
  name: string;
  port: number;
  url: string;
}

/** A running local cluster. */
export interface LocalCluster {
  dir: string;
  /** The load balancer: what clients use. */
  url: string;
  /** PostgreSQL through the balancer: always the current primary. */
  databaseUrl: string;
  /** PostgreSQL through the balancer: any readable member. */
  databaseReadUrl: string;
  adminToken: string;
  secret: string;
  nodes: NodeInfo[];
  sup: Supervisor;
  pg: PatroniSet;
  redis: SentinelSet;
  balancer: Balancer;
  startNode(name: string): void;
  /** Waits for the node's `/readyz`. */
  waitNodeReady(name: string, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

async function ready(url: string): Promise<boolean> {
  const reply = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
  return reply.ok;
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** Starts the whole cluster; on failure stops what started and rethrows. */
export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(path.join(tmpdir(), 'stampede-cluster-'));
  const sup = new Supervisor(dir);
  const stop = async (): Promise<void> => {
    await sup.stopAll();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  options.onTeardown?.(stop);
  try {
    log(`data and logs under ${dir}`);
    const [pgSet, redis] = await Promise.all([
      startPatroni(sup, dir).then((set) => {
        log('PostgreSQL primary and synchronous standby are streaming (Patroni, etcd)');
        return set;
      }),
      startSentinelSet(sup, dir).then((set) => {
        log('Redis primary, replica and three Sentinels are up');
        return set;
      }),
    ]);
    const ports = await freePorts(options.nodes ?? 3);
    const nodes = ports.map((port, i) => ({
      name: `node${i + 1}`, port, url: `http://127.0.0.1:${port}`,
    }));
    const waitingRoom = options.waitingRoom ?? [];
    for (const name of waitingRoom) {
      if (!nodes.some((n) => n.name === name)) throw new Error(`no node ${name} to split off`);
    }
    const balancer = await startHaproxy(sup, dir, nodes, pgSet.members, waitingRoom);
    const url = `http://127.0.0.1:${balancer.httpPort}`;
    const databaseUrl = `postgres://postgres@127.0.0.1:${balancer.pgPort}/stampede`;
    const databaseReadUrl = `postgres://postgres@127.0.0.1:${balancer.pgReadPort}/stampede`;
    await waitFor('the primary through HAProxy', async () => {
      await createDatabase(`postgres://postgres@127.0.0.1:${balancer.pgPort}/postgres`,
        'stampede');
      return true;
    }, 60_000, 500);
    log(`HAProxy: ${url} (nodes), 127.0.0.1:${balancer.pgPort} (PostgreSQL primary)`);

    const adminToken = randomBytes(24).toString('hex');
    const secret = randomBytes(32).toString('hex');
    const sentinels = redis.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',');
    const startNode = (name: string): void => {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name}`);
      const dataDir = path.join(dir, name);
      mkdirSync(dataDir, { recursive: true });
      sup.start(name, process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
        cwd: repoRoot,
        env: {
          ...process.env, NODE_ENV: 'production', PORT: String(node.port), HOST: '127.0.0.1',
          PUBLIC_URL: url, TRUST_PROXY_HOPS: '1', DATABASE_URL: databaseUrl,
          DATABASE_READ_URL: databaseReadUrl, REDIS_URL: '', REDIS_SENTINELS: sentinels,
          REDIS_SENTINEL_MASTER: redis.masterName, STAMPEDE_ADMIN_TOKEN: adminToken,
          STAMPEDE_SECRET: secret, PAYMENT_PROVIDER: 'simulated', STAMPEDE_DATA_DIR: dataDir,
          LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? 'info', ...options.nodeEnv,
        },
      });
    };
    const waitNodeReady = async (name: string, timeoutMs = 90_000): Promise<number> => {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name}`);
      const proc = sup.get(name);
      return await waitFor(`${name} ready`, () => {
        if (!proc.running()) throw new FatalWait(`${name} exited; see ${proc.logPath}`);
        return ready(node.url);
      }, timeoutMs, 250);
    };
    // The first node migrates and seeds alone; the others start on a ready schema.
    const [first, ...rest] = nodes;
    startNode(first!.name);
    await waitNodeReady(first!.name);
    rest.forEach((node) => startNode(node.name));
    await Promise.all(rest.map((node) => waitNodeReady(node.name)));
    await waitFor('HAProxy to route to the nodes', () => ready(url), 30_000);
    log(`${nodes.length} Stampede nodes ready behind HAProxy`);
    return {
      dir, url, databaseUrl, databaseReadUrl, adminToken, secret, nodes, sup, pg: pgSet, redis,
      balancer, startNode, waitNodeReady, stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
