import { createServer, connect, type Server } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from './pglite.js';
import type { Db } from './index.js';

/** A statement that keeps the WebAssembly busy for a while. */
const busy = 'SELECT count(*) FROM generate_series(1, 20000) g WHERE g % 7 = 3';
const queued = 30;

/**
 * Queues `queued` statements, then opens a TCP connection to a local server, and answers
 * how many statements had finished when the server accepted it.
 */
async function finishedWhenAccepted(
  server: Server, run: (sql: string) => Promise<unknown>,
): Promise<number> {
  let finished = 0;
  const all = Array.from({ length: queued }, () => run(busy).then(() => {
    finished++;
  }));
  const accepted = new Promise<number>((resolve) => server.once('connection', (socket) => {
    resolve(finished);
    socket.destroy();
  }));
  const address = server.address() as { port: number };
  const client = connect(address.port, '127.0.0.1');
  client.on('error', () => undefined);
  const answer = await accepted;
  client.destroy();
  await Promise.all(all);
  return answer;
}

// In this thread statements take turns with I/O; in a worker thread (the default) they do
// not hold the event loop at all. Both must accept connections while a queue runs.
for (const thread of [false, true]) describe(`embedded statements take turns with network I/O${
  thread ? ', database in a worker thread' : ''}`, () => {
  let server: Server;
  let db: Db;
  let raw: PGlite;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    db = await createPgliteDb(undefined, { thread });
    raw = await PGlite.create();
  });
  afterAll(async () => {
    await db?.close();
    await raw?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('control: PGlite alone runs a queue of statements before accepting a connection', async () => {
    // PGlite hands its connection on through promise callbacks: the whole queue runs in one
    // turn of the event loop, and the connection waits for all of it.
    expect(await finishedWhenAccepted(server, (sql) => raw.query(sql))).toBe(queued);
  });

  it('accepts a connection after at most a statement or two of a queue', async () => {
    const finished = await finishedWhenAccepted(server, (sql) => db.query(sql));
    expect(finished).toBeLessThanOrEqual(2);
  });

  it('inside a transaction too, and the transaction still sees its own writes', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS turn_probe (k int PRIMARY KEY)');
    let finished = 0;
    const work = db.tx(async (tx) => {
      for (let k = 0; k < queued; k++) {
        await tx.query(busy);
        await tx.query('INSERT INTO turn_probe VALUES ($1)', [k]);
        finished += 2;
      }
      return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM turn_probe')).rows;
    });
    const accepted = new Promise<number>((resolve) => server.once('connection', (socket) => {
      resolve(finished);
      socket.destroy();
    }));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    client.on('error', () => undefined);
    const finishedWhenAccepted = await accepted;
    client.destroy();
    expect(await work).toEqual([{ n: queued }]);
    expect(finishedWhenAccepted).toBeLessThanOrEqual(2);
  });
});
