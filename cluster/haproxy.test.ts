/**
 * The cluster's HAProxy configuration, both layouts: HAProxy itself checks it (`haproxy -c`),
 * the split layout routes the crowd's paths and nothing else to the waiting room's pool, and
 * the operations guide shows the same routing rule.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { servicesRequired } from '../src/testing/services.js';
import { haproxyConfig, waitingRoomPaths } from './haproxy.js';
import type { PgMember } from './postgres.js';

const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
if (haproxy === undefined && servicesRequired) {
  throw new Error('haproxy is not installed and STAMPEDE_REQUIRE_SERVICES=1');
}
const dir = mkdtempSync(path.join(tmpdir(), 'stampede-haproxy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nodes = [1, 2, 3].map((i) => ({ name: `node${i}`, port: 41_000 + i }));
const pg: PgMember[] = [1, 2].map((i) => ({
  name: `pg${i}`, pgPort: 42_000 + i, restPort: 42_100 + i, dataDir: path.join(dir, `pg${i}`),
}));
const build = (waitingRoom: string[]): string => haproxyConfig({
  nodes, pg, ports: [43_001, 43_002, 43_003, 43_004], socket: path.join(dir, 'h.sock'),
  waitingRoom,
});

/** The `server` lines of one backend section. */
function servers(config: string, backend: string): string[] {
  const section = config.split(/\n(?=\S)/).find((s) => s.startsWith(`backend ${backend}\n`));
  return (section ?? '').split('\n').filter((l) => l.trim().startsWith('server '))
    .map((l) => l.trim());
}

describe('the cluster balancer configuration', () => {
  it.skipIf(haproxy === undefined)('is valid for HAProxy in both layouts', () => {
    for (const [name, waitingRoom] of [['one', []], ['split', ['node1']]] as const) {
      const file = path.join(dir, `${name}.cfg`);
      writeFileSync(file, build([...waitingRoom]));
      // Throws (non-zero exit) on any error in the file.
      execFileSync(haproxy as string, ['-c', '-q', '-f', file], { stdio: 'pipe' });
    }
  });

  it('keeps one pool when nothing is split off', () => {
    const config = build([]);
    expect(config).not.toContain('waiting_room');
    expect(servers(config, 'nodes')).toHaveLength(3);
  });

  it('sends the crowd to its own pool, each pool backing the other up', () => {
    const config = build(['node1']);
    expect(servers(config, 'waiting_room')).toEqual([
      'server node1 127.0.0.1:41001 check',
      'server node2 127.0.0.1:41002 check backup',
      'server node3 127.0.0.1:41003 check backup',
    ]);
    expect(servers(config, 'nodes')).toEqual([
      'server node2 127.0.0.1:41002 check',
      'server node3 127.0.0.1:41003 check',
      'server node1 127.0.0.1:41001 check backup',
    ]);
    const rule = new RegExp(waitingRoomPaths);
    const event = '/api/v1/events/0b7c7c3e-1d7a-4a52-9d6e-3c7e0d8b4a11';
    for (const crowd of ['/queue', '/queue/challenge', '/queue/stream', '/queue/me/waitlist',
      '/waitlist']) {
      expect(rule.test(`${event}${crowd}`), crowd).toBe(true);
    }
    // The store keeps what an admitted fan needs, the served fan's pass pickup included.
    for (const store of ['/queue/me', '/holds', '/seatmap', '/live', '']) {
      expect(rule.test(`${event}${store}`), store || 'the event').toBe(false);
    }
  });

  it('matches the rule the operations guide gives', () => {
    const guide = readFileSync(new URL('../docs/OPERATIONS.md', import.meta.url), 'utf8');
    expect(guide).toContain(`acl waiting_room path_reg ${waitingRoomPaths}`);
  });
});
