/**
 * The rehearsal's statement profile: what each top-level statement is counted as, sums by
 * group (statements inside functions left out), and whether a server offers the counters.
 */
import { afterAll, describe, expect, it } from 'vitest';

import type { Db } from '../src/storage/index.js';
import { testBackends } from '../src/testing/backends.js';
import {
  byGroup, pgStatements, statementGroup, statementsText, type StatementRow,
} from './pgStatements.js';

const row = (query: string, calls: number, totalMs: number, toplevel = true): StatementRow => ({
  toplevel, calls, totalMs, rows: calls, sharedHit: 10 * calls, sharedRead: calls,
  walBytes: 0, jitMs: 0, query,
});

describe('statement groups', () => {
  it('names what each hot statement is for', () => {
    expect(statementGroup('SELECT n, outcome, detail FROM settle_batch($1, $2::jsonb, $3)'))
      .toBe('checkout and payments');
    expect(statementGroup('SELECT n, outcome, detail FROM hold_batch($1::uuid, $2::jsonb)'))
      .toBe('hold batch');
    expect(statementGroup('SELECT json_build_object(\n  $1, coalesce((SELECT json_agg(l) FROM'))
      .toBe('metrics scrape');
    expect(statementGroup('ANALYZE "outbox_events"')).toBe('table maintenance');
    expect(statementGroup('SELECT 1')).toBe('other');
  });

  it('sums top-level statements only, largest time first, with shares', () => {
    const groups = byGroup([
      row('SELECT * FROM hold_batch($1)', 10, 300),
      row('SELECT * FROM settle_batch($1)', 5, 100),
      row('SELECT * FROM checkout_begin_batch($1)', 5, 100),
      row('UPDATE tickets SET x = 1', 1_000, 5_000, false),
    ]);
    expect(groups.map((g) => [g.group, g.calls, g.totalMs, g.share, g.buffers])).toEqual([
      ['hold batch', 10, 300, 0.6, 110],
      ['checkout and payments', 10, 200, 0.4, 110],
    ]);
    const text = statementsText([row('SELECT * FROM hold_batch($1)', 10, 300)]);
    expect(text).toContain('hold batch');
    expect(text).toMatch(/t\s+10\s+30\.000\s+11\s+SELECT \* FROM hold_batch/);
    expect(statementsText([{ ...row('SELECT 1', 1, 80), jitMs: 70 }]))
      .toContain('JIT compile: 0.1 s in 1 statements');
  });
});

const postgres = (await testBackends()).find((backend) => backend.name === 'postgres');

describe.skipIf(postgres === undefined || !postgres.available)('the counters on PostgreSQL', () => {
  let db: Db | undefined;
  afterAll(async () => {
    await db?.close();
  });

  it('are offered exactly when the server preloads pg_stat_statements', async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
    const { rows } = await db.query<{ libs: string }>(
      'SELECT current_setting(\'shared_preload_libraries\') AS libs');
    const preloaded = (rows[0]?.libs ?? '').includes('pg_stat_statements');
    const counters = await pgStatements(db);
    expect(counters !== undefined).toBe(preloaded);
    if (counters === undefined) return;
    await counters.reset();
    await db.query('SELECT 41 + 1 AS answer');
    const read = await counters.read();
    expect(read.some((r) => r.toplevel && r.query.includes('AS answer') && r.calls === 1))
      .toBe(true);
  });
});
