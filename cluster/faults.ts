/**
 * The faults of the matrix. Each one is injected into a running local cluster while a
 * simulated sale goes on, and healed afterwards so the next one starts from a whole
 * cluster. `inject` resolves when the fault has been done (for a rolling restart: when
 * every node is back), and says how long the outage it caused lasted where it can tell.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import pg from 'pg';

import { simulatedWebhookSecret } from '../src/payments/index.js';
import { signatureHeader, signPayload } from '../src/payments/signature.js';
import type { LocalCluster } from './cluster.js';
import { waitFor } from './procs.js';
import { redisCli } from './redis.js';

/** What a fault observed while it was injected. */
export interface FaultNotes {
  /** Free text for the results table. */
  notes: string[];
}

/** One row of the matrix. */
export interface Fault {
  name: string;
  what: string;
  /** The share of payers using the slow payment method during this sale. */
  slowPay?: number;
  inject(cluster: LocalCluster, eventId: string): Promise<FaultNotes>;
  heal(cluster: LocalCluster): Promise<void>;
}

/** Which node process holds each duty's lease (read from the current Redis primary). */
export async function leaders(cluster: LocalCluster): Promise<Map<string, string>> {
  const port = await cluster.redis.currentPrimaryPort();
  const keys = (await redisCli(port, '--scan', '--pattern', '*{lease:*}:holder'))
    .split('\n').filter((line) => line !== '');
  const byPid = new Map(cluster.nodes.map((node) => {
    const pid = cluster.sup.get(node.name).child.pid;
    return [String(pid), node.name] as const;
  }));
  const found = new Map<string, string>();
  for (const key of keys) {
    const holder = await redisCli(port, 'HGET', key, 'holder');
    const pid = /[-:](\d+)[-:][0-9a-zA-Z_-]+$/.exec(holder)?.[1];
    const duty = /\{lease:([^}]+)\}/.exec(key)?.[1];
    const node = pid === undefined ? undefined : byPid.get(pid);
    if (duty !== undefined && node !== undefined) found.set(duty, node);
  }
  return found;
}

async function primaryWritable(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ primary: boolean }>(
      'SELECT NOT pg_is_in_recovery() AS primary');
    return rows[0]?.primary === true;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Waits for a writable primary behind HAProxy; says who it is and how long it took. */
async function writableAgain(cluster: LocalCluster, what: string): Promise<FaultNotes> {
  const tookMs = await waitFor('a writable primary through HAProxy',
    () => primaryWritable(cluster.databaseUrl), 120_000, 250);
  const now = await cluster.pg.leader();
  return { notes: [`${what}; ${now ?? '?'} writable after ${(tookMs / 1000).toFixed(1)} s`] };
}

async function restartNode(cluster: LocalCluster, name: string): Promise<void> {
  cluster.startNode(name);
  await cluster.waitNodeReady(name);
}

/** Restarts every crashed or stopped node. */
async function healNodes(cluster: LocalCluster): Promise<void> {
  for (const node of cluster.nodes) {
    if (!cluster.sup.get(node.name).running()) await restartNode(cluster, node.name);
  }
}

async function crashNode(cluster: LocalCluster, pick: 'leader' | 'follower'): Promise<FaultNotes> {
  const duties = await leaders(cluster);
  const leader = duties.get('queue-admission') ?? [...duties.values()][0];
  const name = pick === 'leader'
    ? leader ?? 'node1'
    : cluster.nodes.map((n) => n.name).find((n) => n !== leader) ?? 'node2';
  const held = [...duties].filter(([, node]) => node === name).map(([duty]) => duty);
  await cluster.sup.crash(name);
  const notes = [`killed ${name}${held.length > 0 ? ` (leader of ${held.join(', ')})` : ''}`];
  if (held.length > 0) {
    const tookMs = await waitFor('duties to move', async () => {
      const now = await leaders(cluster);
      return held.every((duty) => now.has(duty) && now.get(duty) !== name);
    }, 60_000, 200);
    notes.push(`duties moved in ${(tookMs / 1000).toFixed(1)} s`);
  }
  return { notes };
}

/**
 * Five rounds, two seconds apart, while the sale goes on: each re-delivers every capture of
 * the event so far, many times over.
 */
async function webhookStorm(cluster: LocalCluster, eventId: string): Promise<FaultNotes> {
  const totals = new Map<number, number>();
  let deliveries = 0;
  for (let round = 0; round < 5; round++) {
    const { sent, statuses } = await webhookRound(cluster, eventId);
    deliveries += sent;
    for (const [status, n] of statuses) totals.set(status, (totals.get(status) ?? 0) + n);
    await sleep(2_000);
  }
  const answered = [...totals].map(([status, n]) => `${n}×${status}`).join(', ');
  return { notes: [`${deliveries} deliveries in 5 rounds: ${answered}`] };
}

/** Posts signed webhook deliveries for every captured payment of the event, many times. */
async function webhookRound(cluster: LocalCluster, eventId: string):
  Promise<{ sent: number; statuses: Map<number, number> }> {
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  let payments: { payment_id: string; provider_ref: string }[];
  try {
    ({ rows: payments } = await db.query<{ payment_id: string; provider_ref: string }>(
      `SELECT payment_id::text, provider_ref FROM payments
        WHERE event_id = $1 AND status = 'captured' AND provider_ref IS NOT NULL`, [eventId]));
  } finally {
    await db.end();
  }
  const secret = simulatedWebhookSecret(cluster.secret);
  const deliveries: string[] = [];
  for (const payment of payments) {
    const data = { paymentId: payment.payment_id, providerRef: payment.provider_ref };
    // The same delivery five times (a provider retrying), and three distinct events for
    // the same capture (a provider that re-sends under new ids).
    const same = JSON.stringify({ id: `evt_storm_${randomUUID()}`, type: 'payment.captured',
      created: Math.floor(Date.now() / 1000), data });
    for (let i = 0; i < 5; i++) deliveries.push(same);
    for (let i = 0; i < 3; i++) {
      deliveries.push(JSON.stringify({ id: `evt_storm_${randomUUID()}`, type: 'payment.captured',
        created: Math.floor(Date.now() / 1000), data }));
    }
  }
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < deliveries.length) {
      const body = deliveries[next++] as string;
      const headers = { 'content-type': 'application/json',
        [signatureHeader]: signPayload(secret, body, Math.floor(Date.now() / 1000)) };
      const status = await fetch(`${cluster.url}/api/v1/payments/webhooks/simulated`, {
        method: 'POST', body, headers, signal: AbortSignal.timeout(10_000),
      }).then((reply) => reply.status, () => 0);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return { sent: deliveries.length, statuses };
}

async function rollingRestart(cluster: LocalCluster): Promise<FaultNotes> {
  const notes: string[] = [];
  for (const node of cluster.nodes) {
    // Stop sending it new requests, let HAProxy see that, then stop it gracefully: it
    // finishes what it has in flight and hands its duties over.
    await cluster.balancer.command(`set server nodes/${node.name} state drain`);
    await sleep(1_000);
    const startedAt = performance.now();
    await cluster.sup.stop(node.name, 'SIGTERM', 30_000);
    const stoppedMs = performance.now() - startedAt;
    await restartNode(cluster, node.name);
    await cluster.balancer.command(`set server nodes/${node.name} state ready`);
    notes.push(`${node.name} stopped in ${(stoppedMs / 1000).toFixed(1)} s`);
  }
  return { notes };
}

/** The whole matrix, in the order it runs. */
export const faults: Fault[] = [
  {
    name: 'kill -9 a node', what: 'a node that leads no duty dies mid-sale',
    inject: (cluster) => crashNode(cluster, 'follower'), heal: healNodes,
  },
  {
    name: 'kill -9 the leader', what: 'the node running the admission tick dies mid-sale',
    inject: (cluster) => crashNode(cluster, 'leader'), heal: healNodes,
  },
  {
    name: 'kill the PostgreSQL primary',
    what: 'Patroni and PostgreSQL on the primary are killed; the synchronous standby is promoted',
    async inject(cluster) {
      const leader = await cluster.pg.leader();
      if (leader === undefined) throw new Error('no PostgreSQL leader to kill');
      await cluster.pg.crash(leader);
      return await writableAgain(cluster, `${leader} killed`);
    },
    async heal(cluster) {
      for (const member of cluster.pg.members) {
        if (!cluster.sup.get(`patroni-${member.name}`).running()) cluster.pg.start(member.name);
      }
      await cluster.pg.waitHealthy(180_000);
      await healNodes(cluster);
    },
  },
  {
    name: 'restart PostgreSQL',
    what: 'the primary\'s postmaster is killed and Patroni restarts it in place (no failover)',
    async inject(cluster) {
      const leader = await cluster.pg.leader();
      const member = cluster.pg.members.find((m) => m.name === leader);
      if (member === undefined) throw new Error('no PostgreSQL leader');
      const { readFileSync } = await import('node:fs');
      const pid = Number(readFileSync(`${member.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGKILL');
      return await writableAgain(cluster, `postmaster of ${member.name} killed`);
    },
    async heal(cluster) {
      await cluster.pg.waitHealthy(180_000);
      await healNodes(cluster);
    },
  },
  {
    name: 'Redis failover (Sentinel)',
    what: 'the Sentinels promote the Redis replica; the old primary becomes its replica',
    async inject(cluster) {
      const before = await cluster.redis.currentPrimaryPort();
      await redisCli(cluster.redis.sentinelPorts[0] as number, 'SENTINEL', 'FAILOVER',
        cluster.redis.masterName);
      const tookMs = await waitFor('a new Redis primary', async () =>
        (await cluster.redis.currentPrimaryPort()) !== before, 60_000, 100);
      return { notes: [`primary moved in ${(tookMs / 1000).toFixed(1)} s`] };
    },
    async heal(cluster) {
      await waitFor('Redis replica linked', async () => {
        const primary = await cluster.redis.currentPrimaryPort();
        return (await redisCli(primary, 'INFO', 'replication')).includes('connected_slaves:1');
      }, 60_000, 250);
    },
  },
  {
    name: 'flush Redis',
    what: 'FLUSHALL on the Redis primary: counters, leases, rate buckets and queue caches gone',
    async inject(cluster) {
      await redisCli(await cluster.redis.currentPrimaryPort(), 'FLUSHALL');
      return { notes: ['every key gone'] };
    },
    heal: async () => {},
  },
  {
    name: 'rolling restart',
    what: 'each node in turn: drained at HAProxy, SIGTERM (graceful), started again',
    inject: (cluster) => rollingRestart(cluster), heal: healNodes,
  },
  {
    name: 'slow payment provider',
    what: 'half of the payers pay with a method the provider takes 5 s to capture',
    slowPay: 0.5,
    inject: async () => ({ notes: ['slow captures throughout the sale'] }),
    heal: async () => {},
  },
  {
    name: 'webhook storm',
    what: 'five rounds re-delivering every capture so far 5 times, plus 3 new event ids each',
    inject: (cluster, eventId) => webhookStorm(cluster, eventId),
    heal: async () => {},
  },
];
