// Holds many live seat-map SSE connections to one server from a separate process (its own
// file descriptors and event loop) and measures commit-to-client latency: the parent says
// when each hold committed, every connection notes when the seat turned `held`.
// Plain JavaScript: it needs no TypeScript loader. Talks to 127.0.0.1 only.
//
// Messages in (process.send): {type: 'open', url, path, count, concurrency} → {type: 'opened', ...}
//                             {type: 'commit', seats: [seatId], at}
//                             {type: 'report'} → {type: 'report', hist, samples, closed, snapshots}
//                             {type: 'close'}
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const requests = [];
// Latency histogram in whole milliseconds; the last bucket collects everything slower.
const hist = new Uint32Array(30_001);
const commits = new Map();
const pending = new Map();
let samples = 0;
let closed = 0;
let snapshots = 0;
let snapshotBytes = 0;

function now() {
  return performance.timeOrigin + performance.now();
}

function record(latencyMs) {
  hist[Math.min(hist.length - 1, Math.max(0, Math.round(latencyMs)))] += 1;
  samples += 1;
}

function arrived(seatId, at) {
  const committed = commits.get(seatId);
  if (committed !== undefined) {
    record(at - committed);
    return;
  }
  const list = pending.get(seatId);
  if (list === undefined) pending.set(seatId, [at]);
  else list.push(at);
}

function onFrame(frame) {
  const at = now();
  if (frame.startsWith(':')) return;
  const event = /^event: (\w+)$/m.exec(frame)?.[1];
  const dataAt = frame.indexOf('\ndata: ');
  if (event === undefined || dataAt < 0) return;
  if (event === 'snapshot') {
    snapshots += 1;
    snapshotBytes += frame.length;
    return;
  }
  if (event !== 'seats') return;
  const data = JSON.parse(frame.slice(dataAt + 7));
  for (const change of data.changes) if (change.status === 'held') arrived(change.seatId, at);
}

function openOne(url, path) {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = http.get({
      host: target.hostname, port: target.port, path: target.pathname, agent,
      headers: { accept: 'text/event-stream' },
    }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`status ${response.statusCode}`));
        return;
      }
      let buffer = '';
      let first = true;
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          onFrame(frame);
          if (first && frame.includes('event: snapshot')) {
            first = false;
            resolve();
          }
        }
      });
      response.on('close', () => {
        closed += 1;
      });
      response.on('error', () => undefined);
    });
    request.on('error', reject);
    requests.push(request);
  });
}

process.on('message', async (message) => {
  if (message.type === 'open') {
    const started = now();
    let next = 0;
    let opened = 0;
    let failed = 0;
    const worker = async () => {
      while (next < message.count) {
        next += 1;
        try {
          await openOne(message.url, message.path);
          opened += 1;
        } catch {
          failed += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: message.concurrency }, worker));
    process.send({ type: 'opened', count: opened, failed, ms: now() - started,
      snapshotBytes: snapshots === 0 ? 0 : snapshotBytes / snapshots });
  } else if (message.type === 'commit') {
    for (const seatId of message.seats) {
      commits.set(seatId, message.at);
      const waiting = pending.get(seatId);
      if (waiting === undefined) continue;
      pending.delete(seatId);
      for (const at of waiting) record(at - message.at);
    }
  } else if (message.type === 'report') {
    process.send({ type: 'report', hist: Array.from(hist), samples, closed, snapshots });
  } else if (message.type === 'close') {
    for (const request of requests) request.destroy();
    process.send({ type: 'closed' });
    setTimeout(() => process.exit(0), 50);
  }
});
process.send({ type: 'ready' });
