import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimClient, retryAfterMs } from './http.js';
import { Recorder } from './metrics.js';

/**
 * A server whose `/slow` requests wait until released: it stands for a server busy with the
 * crowd. It counts what reached it, so a test can tell a request that waited in the
 * client's pool from one the server was holding.
 */
function stallingServer() {
  const stalled: ServerResponse[] = [];
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.url ?? '');
    req.resume();
    if (req.url === '/slow') {
      stalled.push(res);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  return {
    server, stalled, seen,
    release(): void {
      for (const res of stalled.splice(0)) res.end('{}');
    },
  };
}

/** Resolves once `check` holds, polling the event loop (no fixed sleeps). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1));
}

describe('SimClient lanes', () => {
  let stall: ReturnType<typeof stallingServer>;
  let client: SimClient;

  beforeEach(async () => {
    stall = stallingServer();
    stall.server.listen(0, '127.0.0.1');
    await once(stall.server, 'listening');
    const { port } = stall.server.address() as AddressInfo;
    // Two connections per lane: two stalled crowd requests fill the crowd's pool.
    client = new SimClient(`http://127.0.0.1:${port}`, new Recorder(), 2, 1);
  });

  afterEach(async () => {
    stall.release();
    await client.close();
    stall.server.closeAllConnections();
    stall.server.close();
  });

  /** Fills the crowd's pool with stalled requests and queues one more behind them. */
  async function crowdTheClient(): Promise<Promise<unknown>[]> {
    const crowd = [1, 2, 3].map(() => client.json('queue join', 'GET', '/slow'));
    await until(() => stall.stalled.length === 2);
    return crowd;
  }

  it('answers a shopper while the crowd fills its own pool', async () => {
    const crowd = await crowdTheClient();
    // Answered although both crowd connections are stalled (the test times out otherwise).
    const reply = await client.json('hold', 'GET', '/fast', { lane: 'shop' });
    expect(reply.body).toEqual({ ok: true });
    // The third crowd request is still waiting in the client's pool, never sent.
    expect(stall.seen.filter((url) => url === '/slow')).toHaveLength(2);
    stall.release();
    await until(() => stall.stalled.length === 1);
    stall.release();
    await Promise.all(crowd);
  });

  it('control: on the crowd\'s lane the same request waits behind the crowd', async () => {
    const crowd = await crowdTheClient();
    const fast = client.json('hold', 'GET', '/fast', { lane: 'crowd' });
    // Nothing can send it while the crowd holds both connections, however long it waits.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stall.seen).not.toContain('/fast');
    stall.release();
    await until(() => stall.stalled.length === 1);
    stall.release();
    expect((await fast).body).toEqual({ ok: true });
    await Promise.all(crowd);
  });
});

describe('SimClient shop origin', () => {
  /** A server that answers every request with its own name. */
  async function named(name: string): Promise<{ url: string; server: Server }> {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }

  it('sends the shoppers\' lane to its own node and the crowd to the main one', async () => {
    const [crowd, store] = await Promise.all([named('crowd'), named('store')]);
    const client = new SimClient(crowd.url, new Recorder(), 2, 1, 2, store.url);
    try {
      expect((await client.json(null, 'GET', '/a', { lane: 'shop' })).body).toEqual({ name: 'store' });
      expect((await client.json(null, 'GET', '/a', { lane: 'crowd' })).body).toEqual({ name: 'crowd' });
      // Without a shop origin both lanes reach the main node (the control).
      const single = new SimClient(crowd.url, new Recorder(), 2, 1);
      expect((await single.json(null, 'GET', '/a', { lane: 'shop' })).body).toEqual({ name: 'crowd' });
      await single.close();
    } finally {
      await client.close();
      for (const { server } of [crowd, store]) {
        server.closeAllConnections();
        server.close();
      }
    }
  });
});

describe('retryAfterMs', () => {
  const reply = (status: number, retryAfter?: string | string[]) => ({
    status, body: {}, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  });

  it('reads the wait a 429 or a 503 asks for', () => {
    expect(retryAfterMs(reply(429, '2'))).toBe(2_000);
    expect(retryAfterMs(reply(503, ['5']))).toBe(5_000);
  });

  it('answers nothing for other replies, a missing header or a date it cannot read', () => {
    expect(retryAfterMs(reply(200, '2'))).toBeUndefined();
    expect(retryAfterMs(reply(409, '2'))).toBeUndefined();
    expect(retryAfterMs(reply(429))).toBeUndefined();
    expect(retryAfterMs(reply(429, 'Wed, 21 Oct 2015 07:28:00 GMT'))).toBeUndefined();
  });
});
