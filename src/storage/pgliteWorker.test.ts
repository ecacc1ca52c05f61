import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlState, type Db, type Queryable } from './index.js';
import { createPgliteWorkerDb } from './pgliteWorker.js';

/** Resolves once `open` is called; a transaction parks on it while the test acts. */
function latch(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe('embedded database in a worker thread', () => {
  let db: Db;
  beforeAll(async () => {
    db = await createPgliteWorkerDb(undefined);
    await db.exec('CREATE TABLE probe (k text PRIMARY KEY, at timestamptz, doc jsonb)');
  });
  afterAll(async () => db?.close());

  it('answers rows with their types and errors with their fields', async () => {
    await db.query('INSERT INTO probe VALUES ($1, now(), $2)', ['a', JSON.stringify({ n: 1 })]);
    const { rows } = await db.query<{ at: Date; doc: { n: number } }>(
      'SELECT at, doc FROM probe WHERE k = $1', ['a']);
    expect(rows[0]?.at).toBeInstanceOf(Date);
    expect(rows[0]?.doc).toEqual({ n: 1 });
    const refused = await db.query('INSERT INTO probe (k) VALUES ($1)', ['a'])
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(sqlState(refused)).toBe('23505');
    expect((refused as { constraint?: string }).constraint).toBe('probe_pkey');
  });

  it('parses json and jsonb values sent as text, nested, scalar and null alike', async () => {
    const doc = { s: 'x', list: [1, { deep: true }], none: null };
    const { rows } = await db.query<{
      b: typeof doc; j: typeof doc; text: string; scalar: string; missing: null; arr: unknown;
    }>(`SELECT $1::jsonb AS b, $1::json AS j, '{"a":1}'::text AS text, '"quoted"'::jsonb AS scalar,
               NULL::jsonb AS missing, ARRAY['{"a":1}'::jsonb] AS arr`, [JSON.stringify(doc)]);
    expect(rows[0]).toEqual({ b: doc, j: doc, text: '{"a":1}', scalar: 'quoted',
      missing: null, arr: [{ a: 1 }] });
  });

  it('keys a repeated column name by its last column, as the main thread does', async () => {
    // Rows are keyed by name: the text column after the json one of the same name wins, and
    // must arrive as text (parsing it as json once failed the whole node on 'hello').
    const { rows } = await db.query<{ x: unknown }>(
      `SELECT '{}'::json AS x, 'hello'::text AS x`);
    expect(rows[0]).toEqual({ x: 'hello' });
    const again = await db.query<{ x: unknown }>(`SELECT '[1,2]'::text AS x, '{"b":2}'::json AS x`);
    expect(again.rows[0]).toEqual({ x: { b: 2 } });
  });

  it('gives a transaction the connection to itself: a statement sent meanwhile waits', async () => {
    // The statement outside is sent while the transaction is open and the transaction then
    // rolls back: had the statement run on the connection inside the transaction, its row
    // would have been rolled back with it.
    const parked = latch();
    const begun = latch();
    let inTx: Queryable | undefined;
    const tx = db.tx(async (q) => {
      await q.query('INSERT INTO probe (k) VALUES ($1)', ['inside']);
      inTx = q;
      begun.open();
      await parked.wait;
      throw new Error('roll back');
    }).catch((error: unknown) => error);
    await begun.wait;
    let outsideDone = false;
    const outside = db.query('INSERT INTO probe (k) VALUES ($1)', ['outside']).then(() => {
      outsideDone = true;
    });
    // A statement of the transaction sent after it is answered first: the thread answers in
    // order, so the statement outside was not sent.
    await (inTx as Queryable).query('SELECT 1');
    expect(outsideDone).toBe(false);
    parked.open();
    expect(await tx).toEqual(new Error('roll back'));
    await outside;
    const { rows } = await db.query<{ k: string }>(
      "SELECT k FROM probe WHERE k IN ('inside', 'outside') ORDER BY k");
    expect(rows.map((row) => row.k)).toEqual(['outside']);
  });

  it('commits a transaction as a whole and counts changed rows', async () => {
    const changed = await db.tx(async (q) => {
      await q.query("INSERT INTO probe (k) VALUES ('t1'), ('t2')");
      return (await q.query("UPDATE probe SET doc = '{}' WHERE k LIKE 't%'")).rowCount;
    });
    expect(changed).toBe(2);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM probe WHERE k LIKE 't%'");
    expect(rows).toEqual([{ n: 2 }]);
  });
});

describe('embedded database in a worker thread, stored on disk', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stampede-pglite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps its data across a close and a reopen, and refuses statements once closed', async () => {
    const first = await createPgliteWorkerDb(path.join(dir, 'pglite'));
    await first.exec('CREATE TABLE kept (k int)');
    await first.query('INSERT INTO kept VALUES (7)');
    await first.close();
    await expect(first.query('SELECT 1')).rejects.toThrow(/closed/);
    const second = await createPgliteWorkerDb(path.join(dir, 'pglite'));
    try {
      expect((await second.query<{ k: number }>('SELECT k FROM kept')).rows).toEqual([{ k: 7 }]);
    } finally {
      await second.close();
    }
  }, 300_000); // opening a new data directory runs initdb: tens of seconds on a loaded box
});
