/**
 * HAProxy in front of everything clients reach: the Stampede nodes (HTTP, health-checked
 * on `/readyz`; optionally with the waiting room's requests on nodes of their own), the PostgreSQL primary (TCP, health-checked on Patroni's `/primary`) and
 * any readable PostgreSQL member for `DATABASE_READ_URL` (Patroni's `/read-only`).
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import type { PgMember } from './postgres.js';
import { FatalWait, freePorts, portOpen, waitFor, type Supervisor } from './procs.js';

/** The ports HAProxy listens on and how to steer it. */
export interface Balancer {
  httpPort: number;
  pgPort: number;
  pgReadPort: number;
  statsPort: number;
  /** Sends one runtime API command (e.g. `set server nodes/n1 state drain`). */
  command(line: string): Promise<string>;
}

/**
 * The crowd's requests when the waiting room has nodes of its own: joins, the proof-of-work
 * challenge, the line's stream, moves to the waitlist (docs/OPERATIONS.md, "The waiting room
 * on nodes of its own", shows the same rule). `queue/me` stays with the store: a served fan
 * picks up the pass there.
 */
export const waitingRoomPaths =
  '^/api/v1/events/[^/]+/(queue|queue/challenge|queue/stream|queue/me/waitlist|waitlist)$';

/** A Stampede node behind the balancer. */
export interface BalancedNode {
  name: string;
  port: number;
}

/** The HTTP backends: one pool, or the waiting room's nodes apart from the store's. */
function httpBackends(nodes: BalancedNode[], waitingRoom: readonly string[]): string[] {
  const pool = (name: string, members: BalancedNode[], backups: BalancedNode[]): string[] => [
    `backend ${name}`,
    '  mode http',
    '  balance leastconn',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // Only a request that never reached a node is retried elsewhere: a POST that may have
    // been processed is never replayed by the balancer (clients retry with Idempotency-Key).
    '  retries 3',
    '  retry-on conn-failure',
    '  option redispatch',
    '  default-server inter 500ms fall 2 rise 2',
    ...members.map((n) => `  server ${n.name} 127.0.0.1:${n.port} check`),
    // Each pool backs the other up: any node still serves any request.
    ...backups.map((n) => `  server ${n.name} 127.0.0.1:${n.port} check backup`),
  ];
  const crowd = nodes.filter((n) => waitingRoom.includes(n.name));
  const store = nodes.filter((n) => !waitingRoom.includes(n.name));
  if (crowd.length === 0) return ['  default_backend nodes', ...pool('nodes', nodes, [])];
  return [
    `  acl waiting_room path_reg ${waitingRoomPaths}`,
    '  use_backend waiting_room if waiting_room',
    '  default_backend nodes',
    ...pool('nodes', store, crowd),
    ...pool('waiting_room', crowd, store),
  ];
}

/** HAProxy's configuration for the cluster (exported for its test, which runs `haproxy -c`). */
export function haproxyConfig(opts: { nodes: BalancedNode[]; pg: PgMember[];
  ports: number[]; socket: string; waitingRoom?: readonly string[] }): string {
  const [httpPort, pgPort, pgReadPort, statsPort] = opts.ports;
  const pgServers = (check: string): string[] => [
    `  option httpchk GET ${check}`,
    '  http-check expect status 200',
    // A server that stops answering the check loses its connections at once, so pools
    // reconnect to the new primary instead of waiting on a dead socket.
    '  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions',
    ...opts.pg.map((m) => `  server ${m.name} 127.0.0.1:${m.pgPort} check port ${m.restPort}`),
  ];
  return [
    'global',
    '  maxconn 8000',
    `  stats socket ${opts.socket} mode 600 level admin`,
    'defaults',
    '  timeout connect 2s',
    // Long client/server timeouts: SSE streams and pooled database connections idle.
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 1s',
    'frontend http',
    '  mode http',
    `  bind 127.0.0.1:${httpPort}`,
    '  option forwardfor',
    ...httpBackends(opts.nodes, opts.waitingRoom ?? []),
    'listen postgres',
    '  mode tcp',
    `  bind 127.0.0.1:${pgPort}`,
    ...pgServers('/primary'),
    'listen postgres_read',
    '  mode tcp',
    `  bind 127.0.0.1:${pgReadPort}`,
    '  balance leastconn',
    ...pgServers('/read-only'),
    'listen stats',
    '  mode http',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /',
    '',
  ].join('\n');
}

/** Writes the configuration and starts HAProxy in the foreground under the supervisor. */
export async function startHaproxy(sup: Supervisor, dir: string,
  nodes: BalancedNode[], pg: PgMember[], waitingRoom: readonly string[] = []):
  Promise<Balancer> {
  const ports = await freePorts(4);
  const socket = path.join(dir, 'haproxy.sock');
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig({ nodes, pg, ports, socket, waitingRoom }));
  const proc = sup.start('haproxy', 'haproxy', ['-db', '-f', file]);
  const [httpPort, pgPort, pgReadPort, statsPort] = ports as [number, number, number, number];
  await waitFor('haproxy', () => {
    if (!proc.running()) throw new FatalWait(`haproxy exited; see ${proc.logPath}`);
    return portOpen(statsPort);
  }, 30_000);
  return {
    httpPort, pgPort, pgReadPort, statsPort,
    command: (line) => new Promise((resolve, reject) => {
      const conn = net.connect(socket);
      let out = '';
      conn.on('data', (chunk) => {
        out += chunk.toString();
      });
      conn.on('end', () => resolve(out.trim()));
      conn.on('error', reject);
      conn.end(`${line}\n`);
    }),
  };
}
