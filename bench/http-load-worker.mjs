// A closed-loop HTTP load generator in its own thread, so the server under test keeps the
// main thread (and its core) to itself. Plain JavaScript: it needs no TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const { url, concurrency, maxMs, warmup, requests } = workerData;
const pool = new Pool(url, { connections: concurrency, pipelining: 1 });

async function send(spec) {
  const response = await pool.request({
    method: spec.method, path: spec.path, headers: spec.headers,
    body: spec.body === undefined ? undefined : spec.body,
  });
  await response.body.arrayBuffer();
  return response.statusCode;
}

// Warmup replies are not timed, but their statuses are kept: a bench that audits the
// database afterwards must know every request that changed it.
const warmupStatuses = {};
for (let i = 0; i < warmup && i < requests.length; i++) {
  const status = await send(requests[i]).catch(() => 0);
  warmupStatuses[status] = (warmupStatuses[status] ?? 0) + 1;
}
const latencies = [];
const statuses = {};
let next = warmup;
const started = performance.now();
const deadline = started + maxMs;
async function loop() {
  while (next < requests.length && performance.now() < deadline) {
    const spec = requests[next++];
    const t0 = performance.now();
    let status = 0;
    try {
      status = await send(spec);
    } catch {
      status = 0;
    }
    latencies.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsedMs = performance.now() - started;
await pool.close();
parentPort.postMessage({ latencies, statuses, warmupStatuses, elapsedMs });
