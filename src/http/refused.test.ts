/**
 * Answers no route sees: Node's replies to malformed HTTP and oversized headers, and
 * Fastify's 503 to a request arriving while the node closes. They run no hook, so the
 * metrics plugin counts them on the socket and in the log controller (app.ts): tested over
 * a real port with raw sockets, since `inject` never reaches the socket layer.
 */
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildApp } from './app.js';
import { clientErrorReply } from './plugins/metrics.js';
import type { App } from './types.js';

const [pglite] = await testBackends();

/** Writes `bytes` on a new connection and collects everything until the server closes it. */
async function exchange(port: number, bytes: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(bytes);
  });
}

/** The status lines of the responses in a socket's transcript, in order. */
const statuses = (transcript: string): number[] =>
  [...transcript.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

/** The value of one `stampede_http_refused_total` series (0 when absent). */
async function refusedCount(app: App, status: number, reason: string): Promise<number> {
  const text = await app.metrics.metrics();
  const series = `stampede_http_refused_total{status="${status}",reason="${reason}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('answers given before any route ran', () => {
  let db: Db;
  let app: App;
  let port: number;
  // Run by a preClose hook: Fastify refuses new requests from just before its preClose hooks
  // until the server stops listening, which waits for them.
  let duringClose: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
    app = await buildApp(buildTestContext(db));
    app.addHook('preClose', async () => {
      await duringClose();
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('counts malformed HTTP and oversized headers by status, never by content', async () => {
    const before400 = await refusedCount(app, 400, 'malformed');
    const before431 = await refusedCount(app, 431, 'header_overflow');
    for (let i = 0; i < 2; i++) {
      const reply = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n');
      expect(statuses(reply)).toEqual([400]);
    }
    const big = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(statuses(await exchange(port, big))).toEqual([431]);
    expect(await refusedCount(app, 400, 'malformed')).toBe(before400 + 2);
    expect(await refusedCount(app, 431, 'header_overflow')).toBe(before431 + 1);
    // A well-formed request is not a refusal.
    const ok = await exchange(port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statuses(ok)).toEqual([200]);
    expect(await refusedCount(app, 400, 'malformed')).toBe(before400 + 2);
  });

  it('counts the 503 given to a request that arrives while the node closes', async () => {
    expect(await refusedCount(app, 503, 'closing')).toBe(0);
    // A keep-alive connection opened before the close, as a load balancer's would be.
    const socket = connect({ host: '127.0.0.1', port });
    socket.setEncoding('latin1');
    let transcript = '';
    let answered: () => void = () => undefined;
    socket.on('data', (chunk: string) => {
      transcript += chunk;
      answered();
    });
    const ask = async (): Promise<void> => {
      const reply = new Promise<void>((resolve) => {
        answered = resolve;
      });
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await reply;
    };
    await ask();
    duringClose = ask;
    await app.close();
    socket.destroy();
    expect(statuses(transcript)).toEqual([200, 503]);
    expect(await refusedCount(app, 503, 'closing')).toBe(1);
  });
});

describe('the status Fastify answers a socket error with', () => {
  it('maps timeouts, header overflows and the rest, and nothing for a peer that is gone', () => {
    expect(clientErrorReply('ERR_HTTP_REQUEST_TIMEOUT', false))
      .toEqual({ status: '408', reason: 'timeout' });
    expect(clientErrorReply('HPE_HEADER_OVERFLOW', false))
      .toEqual({ status: '431', reason: 'header_overflow' });
    expect(clientErrorReply('HPE_INVALID_METHOD', false))
      .toEqual({ status: '400', reason: 'malformed' });
    expect(clientErrorReply('ECONNRESET', false)).toBeUndefined();
    expect(clientErrorReply('HPE_INVALID_METHOD', true)).toBeUndefined();
  });
});
