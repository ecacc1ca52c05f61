/**
 * The two-command promise, end to end: `stampede serve` on an empty data dir migrates,
 * seeds the demo, prints the URL and admin token, and serves the demo event; a restart
 * keeps the data. Runs the real CLI in a child process on the embedded default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = mkdtempSync(path.join(tmpdir(), 'stampede-cli-'));
const children: ChildProcess[] = [];

/** Starts the CLI and resolves with its URL and output once it says it is running. */
function serve(): Promise<{ url: string; output: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: root,
    env: { ...process.env, PORT: '0', STAMPEDE_DATA_DIR: dataDir, LOG_LEVEL: 'warn',
      DATABASE_URL: '', REDIS_URL: '', STAMPEDE_ADMIN_TOKEN: '', STAMPEDE_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start in 120 s:\n${output}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined && output.includes('admin token')) {
        clearTimeout(timer);
        resolve({ url: match[1], output, child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('stampede serve on the embedded default', () => {
  // One test: the restart half needs the first start's data dir, and a test stands alone.
  // Two cold starts of the CLI under tsx; a loaded CI box needs more than the default.
  it('seeds the demo on first start, serves it, and keeps data and secrets across a restart',
    async () => {
      const { url, output, child } = await serve();
      const stored = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
      expect(output).toContain(`admin token:  ${stored.adminToken}`);
      const events = await (await fetch(`${url}/api/v1/events`)).json() as {
        data: { eventId: string; status: string; capacity: number; title: string }[];
      };
      const onSale = events.data.find((event) => event.status === 'on_sale');
      expect(onSale).toBeDefined();
      expect(onSale?.capacity).toBeGreaterThanOrEqual(7_000);
      const firstEventId = onSale?.eventId ?? '';
      const map = await (await fetch(`${url}/api/v1/events/${firstEventId}/seatmap`)).json() as {
        sections: { kind: string; capacity: number }[];
      };
      const seated = map.sections.filter((s) => s.kind === 'seated')
        .reduce((sum, s) => sum + s.capacity, 0);
      const standing = map.sections.filter((s) => s.kind === 'standing')
        .reduce((sum, s) => sum + s.capacity, 0);
      expect(seated).toBeGreaterThanOrEqual(5_000);
      expect(standing).toBeGreaterThanOrEqual(2_000);
      const admin = await fetch(`${url}/api/v1/venues`, {
        method: 'POST', body: '{}',
        headers: { authorization: `Bearer ${stored.adminToken}`,
          'content-type': 'application/json' },
      });
      expect(admin.status).toBe(400); // authenticated, then validated
      await stop(child);

      // The restart: same data dir, same secrets, the demo not seeded twice.
      const again = await serve();
      const listed = await (await fetch(`${again.url}/api/v1/events?limit=100`)).json() as {
        data: { eventId: string }[];
      };
      expect(listed.data.map((event) => event.eventId)).toContain(firstEventId);
      expect(listed.data).toHaveLength(2);
      const after = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
      expect(after).toEqual(stored);
      await stop(again.child);
    }, 300_000);
});

describe('stampede with a bad environment', () => {
  it('exits non-zero naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'migrate'], {
      cwd: root, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('PORT');
  });
});
