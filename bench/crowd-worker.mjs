// The crowd for bench/shoppers.ts, in a thread of its own: fans joining one event's line at
// a steady rate (open loop, at most `connections` in flight; a join that finds them all busy
// is counted as dropped, not queued, so the offered rate stays what was asked), and fans
// already in line polling `queue/me` at a steady rate. Plain JavaScript: no TypeScript
// loader in a worker. A join refused with Retry-After (a node shedding load) is sent again
// when asked, spread by up to half again, as a fan's page would. Stops on a 'stop' message
// and posts what it saw.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const { url, eventId, tokens, joinsPerSec, pollsPerSec, connections } = workerData;
const pool = new Pool(url, { connections, pipelining: 1 });
const joinPath = `/api/v1/events/${eventId}/queue`;
const mePath = `/api/v1/events/${eventId}/queue/me`;
const seen = { join: { n: 0, ms: 0, statuses: {} }, poll: { n: 0, ms: 0, statuses: {} } };
let inFlight = 0;
let dropped = 0;
let joined = 0;
let retried = 0;
let stopped = false;

async function send(kind, method, path, token) {
  if (inFlight >= connections) {
    dropped++;
    return;
  }
  inFlight++;
  const t0 = performance.now();
  let status = 0;
  let retryAfterS;
  try {
    const response = await pool.request({
      method, path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : undefined,
    });
    await response.body.arrayBuffer();
    status = response.statusCode;
    retryAfterS = Number(response.headers['retry-after']);
  } catch {
    status = 0;
  } finally {
    inFlight--;
  }
  const s = seen[kind];
  s.n++;
  s.ms += performance.now() - t0;
  s.statuses[status] = (s.statuses[status] ?? 0) + 1;
  if (kind === 'join' && (status === 429 || status === 503) && retryAfterS >= 0 && !stopped) {
    retried++;
    setTimeout(() => {
      if (!stopped) void send('join', method, path, token);
    }, retryAfterS * 1000 * (1 + Math.random() / 2));
  }
}

// Ticks of 10 ms, each sending what the rate owes since the start (no drift, no bursts).
const started = performance.now();
let polls = 0;
const timer = setInterval(() => {
  if (stopped) return;
  const elapsedS = (performance.now() - started) / 1000;
  while (joined < Math.min(tokens.length, Math.floor(elapsedS * joinsPerSec))) {
    void send('join', 'POST', joinPath, tokens[joined++]);
  }
  while (joined > 0 && polls < Math.floor(elapsedS * pollsPerSec)) {
    polls++;
    void send('poll', 'GET', mePath, tokens[Math.floor(Math.random() * joined)]);
  }
}, 10);

parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  stopped = true;
  clearInterval(timer);
  const elapsedMs = performance.now() - started;
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await pool.close();
  parentPort.postMessage({ seen, dropped, joined, retried, elapsedMs });
});
