/**
 * What the app's global per-request machinery costs: a bare Fastify GET beside the full app's
 * `GET /healthz` (every global plugin and hook, no database), the server thread's CPU and
 * busy time per request for each, and with `--cpu` an inspector profile of the `/healthz`
 * window. Run with `npx tsx bench/routeProfile.ts [connections] [seconds] [--cpu]`.
 */
import Fastify from 'fastify';

import { busy, Profiler, summarize } from './cpuProfile.js';
import { benchPglite, loadHttp, startBenchServer } from './lib.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const connections = Number(args[0] ?? 64);
const seconds = Number(args[1] ?? 6);
const cpuProfile = process.argv.includes('--cpu');
const fmt = (n: number, digits = 1): string => n.toFixed(digits);

const gets = (path: string): { method: 'GET'; path: string }[] =>
  Array.from({ length: 200_000 }, () => ({ method: 'GET' as const, path }));
const options = { concurrency: connections, maxMs: seconds * 1000, warmup: 500 };

const bare = Fastify({ logger: false });
bare.get('/ping', async () => ({ status: 'ok' }));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
const bareRun = await busy(() => loadHttp('bare GET', bareUrl, gets('/ping'), options));
await bare.close();

const db = await benchPglite();
const server = await startBenchServer(db, { connections });
const profiler = cpuProfile ? new Profiler() : undefined;
await profiler?.start();
const appRun = await busy(() => loadHttp('app /healthz', server.url, gets('/healthz'), options));
const profile = await profiler?.stop();
await server.close();
await db.close();

type Run = typeof bareRun;
const perRequestUs = (ms: number, ops: number): string => fmt((ms * 1000) / Math.max(1, ops), 0);
const line = (run: Run): string => `${fmt(run.result.opsPerSec, 0)}/s, p50 ${
  fmt(run.result.p50Ms)} ms, p99 ${fmt(run.result.p99Ms)} ms, server thread CPU ${
  perRequestUs(run.cpuMs, run.result.ops)} µs/request (busy ${
  perRequestUs(run.busyMs, run.result.ops)}), errors ${run.result.errors}`;
console.log(`connections ${connections}, ${seconds} s per run`);
console.log(`bare GET:      ${line(bareRun)}`);
console.log(`app /healthz:  ${line(appRun)} (${
  fmt((appRun.result.opsPerSec / bareRun.result.opsPerSec) * 100)} % of bare)`);
if (profile !== undefined) await summarize(profile, 'GET /healthz', { self: 30, total: 70 });
