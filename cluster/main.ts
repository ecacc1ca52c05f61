/**
 * `npm run cluster`: starts the local cluster, prints where everything is, and tears it
 * all down on Ctrl-C (or SIGTERM), also when the signal comes during start-up. `--keep`
 * leaves the data folder for reading logs; `--split` gives the waiting room a node of its
 * own (HAProxy routes the crowd's requests to node1 and the rest to node2 and node3).
 */
import { startCluster } from './cluster.js';

const keep = process.argv.includes('--keep');
// `--split`: node1 takes the waiting room's requests, node2 and node3 the store's.
const split = process.argv.includes('--split');
let teardown: (() => Promise<void>) | undefined;
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log('\n[cluster] stopping...');
  await teardown?.();
  console.log('[cluster] stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
process.on('SIGHUP', () => void stop());

const cluster = await startCluster({
  keep, log: (line) => console.log(`[cluster] ${line}`),
  waitingRoom: split ? ['node1'] : [],
  onTeardown: (fn) => {
    teardown = fn;
  },
});
const pgMembers = cluster.pg.members
  .map((m) => `${m.name} 127.0.0.1:${m.pgPort} (Patroni REST ${m.restPort})`).join(', ');
const stats = `http://127.0.0.1:${cluster.balancer.statsPort}/`;
console.log(`
Stampede cluster is running.
  web and API:      ${cluster.url}   (HAProxy; stats at ${stats})
  nodes:            ${cluster.nodes.map((n) => n.url).join(', ')}${split
    ? '\n                    (node1: the waiting room; node2, node3: the store)' : ''}
  PostgreSQL:       ${cluster.databaseUrl}   (always the primary)
  read replica:     ${cluster.databaseReadUrl}
  members:          ${pgMembers}
  Redis Sentinels:  ${cluster.redis.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}
                    (master "${cluster.redis.masterName}")
  admin token:      ${cluster.adminToken}
  logs:             ${cluster.dir}/logs/
${keep ? '  (the data folder is kept after stop)\n' : ''}
Press Ctrl-C to stop everything.`);
