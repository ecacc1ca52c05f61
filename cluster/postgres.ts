/**
 * PostgreSQL for the local cluster: two Patroni-managed servers (a primary and a
 * synchronous streaming standby) with etcd as the consensus store.
 *
 * Why Patroni + etcd: node-postgres takes one host, so clients need one address that
 * always leads to the current primary. Patroni answers `GET /primary` with 200 only on the
 * node that holds the leader key in etcd, which is exactly the health check HAProxy needs,
 * and in `synchronous_mode` it promotes only the standby that confirmed every commit, so a
 * committed hold survives the primary's death. (pg_auto_failover elects as well, but has no
 * HTTP health endpoint for a load balancer; a home-made promotion script would be ours to
 * get right.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { freePorts, waitFor, type Supervisor } from './procs.js';

/** Where the PostgreSQL 15 server binaries are (Debian layout; override with PG_BIN_DIR). */
export const pgBinDir = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** One Patroni member. */
export interface PgMember {
  name: string;
  pgPort: number;
  restPort: number;
  dataDir: string;
}

/** Patroni's view of one member, from `GET /cluster`. */
interface ClusterMember {
  name: string;
  role: string;
  state: string;
}

/** The replicated PostgreSQL pair and its consensus store. */
export interface PatroniSet {
  members: PgMember[];
  etcdPort: number;
  /** Starts (or restarts) a member's Patroni; it rejoins as a standby when another leads. */
  start(name: string): void;
  /** kill -9 of Patroni and its PostgreSQL, as when the machine dies. */
  crash(name: string): Promise<void>;
  /** Name of the member holding the leader key, or undefined during an election. */
  leader(): Promise<string | undefined>;
  /** Waits for a leader and a streaming synchronous standby. */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: then run it as the `postgres` system user. */
function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function patroniConfig(member: PgMember, scope: string, etcdPort: number, home: string): object {
  const auth = { username: 'postgres', password: 'postgres' };
  return {
    scope, name: member.name,
    restapi: {
      listen: `127.0.0.1:${member.restPort}`, connect_address: `127.0.0.1:${member.restPort}`,
    },
    etcd3: { hosts: [`127.0.0.1:${etcdPort}`] },
    bootstrap: {
      dcs: {
        // A dead primary's key expires after ttl; loop_wait + 2 × retry_timeout <= ttl.
        ttl: 10, loop_wait: 1, retry_timeout: 4, maximum_lag_on_failover: 1_048_576,
        synchronous_mode: true,
        postgresql: {
          use_pg_rewind: true, use_slots: true,
          parameters: {
            wal_level: 'replica', hot_standby: 'on', max_wal_senders: 10,
            max_replication_slots: 10, wal_log_hints: 'on', max_connections: 300,
            synchronous_commit: 'on',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${member.pgPort}`, connect_address: `127.0.0.1:${member.pgPort}`,
      data_dir: member.dataDir, bin_dir: pgBinDir, pgpass: path.join(home, `${member.name}.pgpass`),
      authentication: { superuser: auth, replication: { username: 'replicator', password: 'rep' },
        rewind: auth },
      parameters: { unix_socket_directories: home, shared_buffers: '64MB', fsync: 'on' },
      pg_hba: [
        'local all all trust',
        'host replication replicator 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 trust',
      ],
    },
  };
}

async function getJson(url: string): Promise<unknown> {
  const reply = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return await reply.json();
}

function postmasterPid(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function killPostmaster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Starts etcd and two Patroni members; resolves once a synchronous standby streams. */
export async function startPatroni(sup: Supervisor, dir: string, scope = 'stampede'):
  Promise<PatroniSet> {
  const home = path.join(dir, 'pg');
  mkdirSync(home, { recursive: true });
  const user = runAs();
  if (user.uid !== undefined) {
    chmodSync(dir, 0o755);
    chownSync(home, user.uid, user.gid ?? user.uid);
  }
  const [etcdPort, etcdPeerPort, pg1, rest1, pg2, rest2] = await freePorts(6) as number[];
  const etcdDir = path.join(dir, 'etcd');
  sup.start('etcd', 'etcd', [
    '--name', 'etcd1', '--data-dir', etcdDir,
    '--listen-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeerPort}`,
    '--initial-cluster', `etcd1=http://127.0.0.1:${etcdPeerPort}`,
  ]);
  await waitFor('etcd', async () =>
    (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, 30_000);

  const members: PgMember[] = [
    { name: 'pg1', pgPort: pg1 as number, restPort: rest1 as number,
      dataDir: path.join(home, 'pg1') },
    { name: 'pg2', pgPort: pg2 as number, restPort: rest2 as number,
      dataDir: path.join(home, 'pg2') },
  ];
  const configFile = (member: PgMember): string => path.join(home, `${member.name}.yml`);
  for (const member of members) {
    // JSON is YAML; Patroni reads it as its configuration file.
    writeFileSync(configFile(member),
      JSON.stringify(patroniConfig(member, scope, etcdPort as number, home), null, 2));
    if (user.uid !== undefined) chownSync(configFile(member), user.uid, user.gid ?? user.uid);
  }
  const byName = (name: string): PgMember => {
    const member = members.find((m) => m.name === name);
    if (!member) throw new Error(`no PostgreSQL member ${name}`);
    return member;
  };
  const env = { ...process.env, HOME: home, PATH: `${pgBinDir}:${process.env.PATH ?? ''}` };
  const start = (name: string): void => {
    sup.start(`patroni-${name}`, 'patroni', [configFile(byName(name))], { env, ...user });
  };
  // Patroni leaves PostgreSQL running when it is killed; a teardown must not.
  sup.onStopAll(() => members.forEach((member) => killPostmaster(member.dataDir)));

  const set: PatroniSet = {
    members, etcdPort: etcdPort as number, start,
    async crash(name) {
      await sup.crash(`patroni-${name}`);
      killPostmaster(byName(name).dataDir);
    },
    async leader() {
      const reply = await getJson(`http://127.0.0.1:${members[0]!.restPort}/cluster`)
        .catch(() => getJson(`http://127.0.0.1:${members[1]!.restPort}/cluster`));
      const list = (reply as { members?: ClusterMember[] }).members ?? [];
      return list.find((m) => m.role === 'leader' && m.state === 'running')?.name;
    },
    async waitHealthy(timeoutMs = 90_000) {
      await waitFor('a PostgreSQL leader and a streaming synchronous standby', async () => {
        for (const member of members) {
          try {
            const reply = await getJson(`http://127.0.0.1:${member.restPort}/cluster`);
            const list = (reply as { members?: ClusterMember[] }).members ?? [];
            const leader = list.some((m) => m.role === 'leader' && m.state === 'running');
            // Patroni 3.0 says `running` for a standby, later versions `streaming`.
            const sync = list.some((m) => m.role === 'sync_standby'
              && (m.state === 'streaming' || m.state === 'running'));
            if (leader && sync) return true;
          } catch {
            // ask the other member
          }
        }
        return false;
      }, timeoutMs, 500);
    },
  };
  start('pg1');
  await waitFor('pg1 to lead', async () => (await set.leader()) === 'pg1', 90_000, 500);
  start('pg2');
  await set.waitHealthy();
  return set;
}
