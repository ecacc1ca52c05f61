/**
 * `npm run cluster`: starts the local cluster, prints where everything is, and tears it
 * all down on Ctrl-C (or SIGTERM), also when the signal comes during start-up. `--keep`
 * leaves the data folder for reading logs.
 */
import { startCluster } from './cluster.js';

const keep = process.argv.includes('--keep');
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
  nodes:            ${cluster.nodes.map((n) => n.url).join(', ')}
  PostgreSQL:       ${cluster.databaseUrl}   (always the primary)
  read replica:     ${cluster.databaseReadUrl}
  members:          ${pgMembers}
  Redis Sentinels:  ${cluster.redis.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}
                    (master "${cluster.redis.masterName}")
  admin token:      ${cluster.adminToken}
  logs:             ${cluster.dir}/logs/
${keep ? '  (the data folder is kept after stop)\n' : ''}
Press Ctrl-C to stop everything.`);
