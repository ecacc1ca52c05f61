/**
 * Shared by the profile scripts: the server thread's CPU and busy time over a load run, and
 * an inspector CPU profile of the server thread summarized by self and inclusive time.
 */
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/**
 * CPU of the main thread from /proc (its task id is the process id), so neither the load
 * thread nor time spent waiting for a core counts. In ms, 10 ms resolution.
 */
export function threadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime (fields 14 and 15 of stat), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

let onFirstRequest: (() => void) | undefined;
diagnostics.subscribe('http.server.request.start', () => {
  const first = onFirstRequest;
  onFirstRequest = undefined;
  first?.();
});

/**
 * Runs `work` and returns the server thread's CPU and event-loop busy time from its first
 * HTTP request on (not the load thread's start-up) to the end.
 */
/**
 * CPU of processes by pid (user + system, 10 ms ticks), ms, read from /proc: a database's
 * backends on this machine, say. A process that ended is skipped (its CPU since the last
 * read is lost, not counted).
 */
export function processesCpuMs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // Ended, or not a process of this machine.
    }
  }
  return total;
}

export async function busy<T>(work: () => Promise<T>): Promise<{
  result: T; busyMs: number; cpuMs: number;
}> {
  let before = performance.eventLoopUtilization();
  let cpu0 = threadCpuMs();
  onFirstRequest = () => {
    before = performance.eventLoopUtilization();
    cpu0 = threadCpuMs();
  };
  const result = await work();
  const elu = performance.eventLoopUtilization(before);
  return { result, busyMs: elu.active, cpuMs: threadCpuMs() - cpu0 };
}

/** An inspector profiler on this thread (200 µs sampling). */
export class Profiler {
  private readonly session = new Session();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = await this.session.post('Profiler.stop');
    await this.session.post('Profiler.disable');
    this.session.disconnect();
    return profile as CpuProfile;
  }
}

interface ProfileNode {
  id: number; hitCount?: number; children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** The parts of a V8 CPU profile the summary reads. */
export interface CpuProfile { nodes: ProfileNode[]; samples?: number[] }

/** Where a profile node's code lives: a package, a folder of ours, or a built-in. */
function placeOf(url: string, functionName: string): string {
  if (url === '') return functionName;
  return /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1]
    ?? (/\/(src|bench)\/([^/]+)/.exec(url)?.slice(1, 3).join('/') ?? url.replace(/^.*\//, ''));
}

/**
 * Writes the profile to /tmp and prints self time by place and by function, and total
 * (inclusive) time of the heaviest functions, as shares of busy (non-idle) samples.
 */
export async function summarize(
  p: CpuProfile, what: string, rows = { self: 25, total: 60 },
): Promise<void> {
  const file = `/tmp/${what.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`;
  await writeFile(file, JSON.stringify(p));
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of p.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const key = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '');
    return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let busySamples = 0;
  const samples = p.samples ?? [];
  for (const id of samples) {
    const leaf = byId.get(id);
    if (leaf === undefined || leaf.callFrame.functionName === '(idle)') continue;
    busySamples += 1;
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + 1);
    const place = placeOf(leaf.callFrame.url, leaf.callFrame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node === undefined) break;
      const k = key(node);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + 1);
    }
  }
  const pct = (n: number): string => `${fmt((n / Math.max(1, busySamples)) * 100).padStart(5)} %`;
  const idle = samples.length - busySamples;
  console.log(`CPU profile of the server thread during ${what} (${file}): ${
    fmt((idle / Math.max(1, samples.length)) * 100)} % idle; shares below are of busy time`);
  console.log('self time by place:');
  for (const [k, n] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, rows.self)) {
    console.log(`  ${pct(n)}  ${k}`);
  }
  console.log('self time by function:');
  for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows.self)) {
    console.log(`  ${pct(n)}  ${k}`);
  }
  console.log('total time (with callees) by function:');
  for (const [k, n] of [...total].sort((a, b) => b[1] - a[1]).slice(0, rows.total)) {
    console.log(`  ${pct(n)}  ${k}`);
  }
}
