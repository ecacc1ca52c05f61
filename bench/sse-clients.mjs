// Holds many SSE connections to one server from a separate process (its own file
// descriptors and event loop), and reports when each tick reached the last of them.
// Plain JavaScript: it needs no TypeScript loader. Talks to 127.0.0.1 only.
//
// Messages in (process.send): {type: 'open', url, path, tokens, concurrency}
//                             {type: 'expect', seq}  → {type: 'expecting'}, later
//                                                      {type: 'arrived', first, median, last}
//                             {type: 'close'}
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const connections = [];
let expected = null;

function now() {
  return performance.timeOrigin + performance.now();
}

function openOne(url, path, token) {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = http.get({
      host: target.hostname, port: target.port, path: target.pathname, agent,
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`status ${response.statusCode}`));
        return;
      }
      const connection = { response, buffer: '', lastSeq: -1, firstSeen: false };
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        connection.buffer += chunk;
        let end;
        while ((end = connection.buffer.indexOf('\n\n')) >= 0) {
          const frame = connection.buffer.slice(0, end);
          connection.buffer = connection.buffer.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(frame);
          if (id === null) continue;
          connection.lastSeq = Number(id[1]);
          if (!connection.firstSeen) {
            connection.firstSeen = true;
            resolve(connection);
          }
          if (expected !== null && connection.lastSeq >= expected.seq) arrive(connection);
        }
      });
      response.on('error', () => undefined);
    });
    request.on('error', reject);
    connections.push(request);
  });
}

function arrive(connection) {
  if (connection.arrivedFor === expected.seq) return;
  connection.arrivedFor = expected.seq;
  expected.times.push(now());
  if (expected.times.length === expected.total) {
    const times = expected.times.sort((a, b) => a - b);
    process.send({ type: 'arrived', seq: expected.seq, first: times[0], last: times.at(-1),
      median: times[Math.floor(times.length / 2)] });
    expected = null;
  }
}

let opened = [];
process.on('message', async (message) => {
  if (message.type === 'open') {
    const started = now();
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < message.tokens.length) {
        const token = message.tokens[next++];
        try {
          opened.push(await openOne(message.url, message.path, token));
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: message.concurrency }, worker));
    process.send({ type: 'opened', count: opened.length, failed, ms: now() - started });
  } else if (message.type === 'expect') {
    expected = { seq: message.seq, total: opened.length, times: [] };
    process.send({ type: 'expecting', seq: message.seq });
  } else if (message.type === 'close') {
    for (const request of connections) request.destroy();
    process.send({ type: 'closed' });
    setTimeout(() => process.exit(0), 50);
  }
});
process.send({ type: 'ready' });
