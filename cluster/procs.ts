/**
 * Starts and stops the cluster's processes. Each runs in its own process group with its
 * output in `<dir>/logs/<name>.log`, so a fault can kill -9 exactly one service (and what
 * it forked) and an operator can read what each one said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** One supervised process. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  running(): boolean;
}

/** How to start a process. */
export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
}

/** Thrown from a waitFor check to stop waiting at once (e.g. the process exited). */
export class FatalWait extends Error {}

/** Polls `check` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000, everyMs = 200): Promise<number> {
  const startedAt = performance.now();
  for (;;) {
    try {
      if (await check()) return performance.now() - startedAt;
    } catch (error) {
      // Not yet, unless the check says waiting is pointless.
      if (error instanceof FatalWait) throw error;
    }
    if (performance.now() - startedAt > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

/**
 * `count` distinct free loopback ports. All are held open until every one is picked, so
 * the same port is never handed out twice; a port can still be taken by someone else
 * between here and the service binding it, which start-up then reports.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
    }
    return servers.map((server) => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : 0;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** True when a TCP connection to 127.0.0.1:port opens. */
export async function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Owns every process the cluster started. */
export class Supervisor {
  private readonly procs = new Map<string, Proc>();
  /** Extra clean-up run by stopAll (e.g. postmasters that outlive their manager). */
  private readonly finalizers: (() => Promise<void> | void)[] = [];

  constructor(readonly dir: string) {
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
  }

  /** Starts `command` as `name`; a running process of that name is an error. */
  start(name: string, command: string, args: readonly string[], opts: StartOptions = {}): Proc {
    const existing = this.procs.get(name);
    if (existing?.running()) throw new Error(`${name} is already running`);
    const logPath = path.join(this.dir, 'logs', `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(command, args, {
      cwd: opts.cwd, env: opts.env ?? process.env, uid: opts.uid, gid: opts.gid,
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let alive = true;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        alive = false;
        resolve(code);
      });
      child.once('error', (err) => {
        alive = false;
        log.write(`spawn failed: ${err.message}\n`);
        resolve(-1);
      });
    });
    void exited.then(() => log.end());
    const proc: Proc = { name, child, logPath, exited, running: () => alive };
    this.procs.set(name, proc);
    return proc;
  }

  get(name: string): Proc {
    const proc = this.procs.get(name);
    if (!proc) throw new Error(`no process named ${name}`);
    return proc;
  }

  names(): string[] {
    return [...this.procs.keys()];
  }

  /** Sends `signal` to the process group and waits for the exit (SIGKILL after timeout). */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000):
    Promise<void> {
    const proc = this.procs.get(name);
    if (!proc || !proc.running() || proc.child.pid === undefined) return;
    const pid = proc.child.pid;
    signalGroup(pid, signal);
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), timeoutMs);
    try {
      await proc.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9 of the process and everything in its group, as a crashed machine would. */
  async crash(name: string): Promise<void> {
    await this.stop(name, 'SIGKILL', 1_000);
  }

  onStopAll(finalizer: () => Promise<void> | void): void {
    this.finalizers.push(finalizer);
  }

  /** Stops everything, newest first, then runs the finalizers. */
  async stopAll(): Promise<void> {
    for (const name of [...this.procs.keys()].reverse()) await this.stop(name);
    for (const finalizer of this.finalizers) await finalizer();
  }
}
