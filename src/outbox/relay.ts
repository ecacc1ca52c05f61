/**
 * The outbox relay: a singleton duty (leader lease, fenced in PostgreSQL) that turns
 * committed outbox rows into per-event feed versions and hands them to sinks.
 *
 * Commit order, not id order: an outbox_id is taken at INSERT and the row commits later,
 * so "everything above the last id seen" would skip a lower id that commits late. Each
 * round therefore *stamps* every committed row that has no version yet: per event, the
 * next numbers from event_feed's counter, in one transaction that first checks the
 * leader's fencing token. A late row simply gets a later version. Versions strictly
 * increase per event with no holes, and GET /seatmap reads event_feed.version in the same
 * snapshot as the ticket states, so a map at version V plus every row above V is current.
 *
 * Delivery is at least once: stamped rows go to every sink and are marked published only
 * after all of them succeeded; a crash in between re-sends them (same versions) from the
 * next leader, so sinks must be idempotent. Published rows are pruned after a short
 * retention, which keeps the table bounded however long the sale runs.
 */
import { hostname } from 'node:os';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { randomToken } from '../core/ids.js';
import { LeaderElector } from '../coord/leader.js';
import type { Db, Queryable } from '../storage/index.js';

/** One committed outbox row with its feed version. */
export interface OutboxRow {
  outboxId: number;
  eventId: string;
  kind: string;
  payload: unknown;
  createdAt: Date;
  /** Per-event feed version (strictly increasing per event, no holes). */
  version: number;
}

/** A consumer of committed outbox rows; must be idempotent (rows may come twice). */
export type OutboxSink = (rows: readonly OutboxRow[]) => Promise<void>;

/** The lease name of the relay duty. */
export const relayLease = 'outbox-relay';

/** What a stamping round found. */
export type StampOutcome =
  | { kind: 'stamped'; rows: number }
  | { kind: 'fenced'; newerToken: number };

interface RawRow {
  outbox_id: string | number;
  event_id: string;
  kind: string;
  payload: unknown;
  created_at: Date;
  version: string | number;
}

/**
 * Gives feed versions to up to `batch` committed, unversioned rows, oldest id first.
 * Refused (nothing written) when a newer leader's token has stamped already.
 */
export async function stampOutbox(
  db: Db, token: number, batch: number = limits.outboxRelayBatch,
): Promise<StampOutcome> {
  return await db.tx(async (tx) => {
    // The fence row also serializes stampers: two leaders never interleave their numbers.
    const fence = await tx.query<{ leader_token: string }>(
      `UPDATE outbox_relay_state SET leader_token = $1
        WHERE singleton AND leader_token <= $1 RETURNING leader_token`,
      [token],
    );
    if (fence.rowCount === 0) {
      const { rows } = await tx.query<{ leader_token: string }>(
        'SELECT leader_token FROM outbox_relay_state WHERE singleton');
      return { kind: 'fenced', newerToken: Number(rows[0]?.leader_token ?? 0) };
    }
    const { rows } = await tx.query<{ outbox_id: string; event_id: string }>(
      `SELECT outbox_id, event_id FROM outbox_events
        WHERE version IS NULL ORDER BY outbox_id LIMIT $1`,
      [batch],
    );
    if (rows.length === 0) return { kind: 'stamped', rows: 0 };
    await assignVersions(tx, rows.map((r) => ({ id: Number(r.outbox_id), eventId: r.event_id })));
    return { kind: 'stamped', rows: rows.length };
  });
}

/** Advances each event's counter by its row count and numbers its rows in id order. */
async function assignVersions(
  tx: Queryable, rows: readonly { id: number; eventId: string }[],
): Promise<void> {
  const byEvent = new Map<string, number[]>();
  for (const row of rows) byEvent.set(row.eventId, [...(byEvent.get(row.eventId) ?? []), row.id]);
  const events = [...byEvent.keys()].sort();
  const { rows: tops } = await tx.query<{ event_id: string; version: string }>(
    `INSERT INTO event_feed AS f (event_id, version)
     SELECT * FROM unnest($1::uuid[], $2::bigint[])
     ON CONFLICT (event_id) DO UPDATE
       SET version = f.version + excluded.version, updated_at = now()
     RETURNING event_id, version`,
    [events, events.map((eventId) => byEvent.get(eventId)?.length ?? 0)],
  );
  const ids: number[] = [];
  const versions: number[] = [];
  for (const top of tops) {
    const mine = byEvent.get(top.event_id) ?? [];
    const first = Number(top.version) - mine.length + 1;
    mine.forEach((id, i) => {
      ids.push(id);
      versions.push(first + i);
    });
  }
  await tx.query(
    `UPDATE outbox_events o SET version = v.version
       FROM unnest($1::bigint[], $2::bigint[]) AS v(outbox_id, version)
      WHERE o.outbox_id = v.outbox_id AND o.version IS NULL`,
    [ids, versions],
  );
}

/** Stamped rows not yet published, in version order per event. */
export async function unpublishedRows(
  db: Queryable, batch: number = limits.outboxRelayBatch,
): Promise<OutboxRow[]> {
  const { rows } = await db.query<RawRow>(
    `SELECT outbox_id, event_id, kind, payload, created_at, version FROM outbox_events
      WHERE published_at IS NULL AND version IS NOT NULL
      ORDER BY event_id, version LIMIT $1`,
    [batch],
  );
  return rows.map((row) => ({
    outboxId: Number(row.outbox_id), eventId: row.event_id, kind: row.kind,
    payload: row.payload, createdAt: row.created_at, version: Number(row.version),
  }));
}

/** Marks rows published (every sink took them). */
export async function markPublished(db: Queryable, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    'UPDATE outbox_events SET published_at = now() WHERE outbox_id = ANY($1::bigint[])',
    [rows.map((row) => row.outboxId)],
  );
}

/**
 * The prune's statement. The rows are deleted by their keys from an array, not by `IN
 * (subquery)`: the planner sizes an array it cannot see as a few keys and probes the primary
 * key for each, whatever the statistics say, where the IN form was planned from them. With
 * the outbox's statistics a minute old (the table maintenance's cadence on a server with
 * autovacuum off), the IN form became a hash join over a sequential scan of the whole table:
 * measured by bench/maintenanceChurn.ts, 1,413-1,459 blocks per prune over 3-minute runs
 * against 647-685 with the outbox analyzed every 5 s; 653-693 keyed, on the same cadence.
 */
export const pruneSql = `DELETE FROM outbox_events WHERE outbox_id = ANY (ARRAY(
       SELECT outbox_id FROM outbox_events
        WHERE published_at IS NOT NULL
          AND published_at <= now() - make_interval(secs => $1)
        LIMIT $2))`;

/** Deletes up to `batch` rows published more than `retentionSeconds` ago. */
export async function prunePublished(
  db: Queryable, retentionSeconds: number = limits.outboxRetentionSeconds,
  batch: number = limits.outboxPruneBatch,
): Promise<number> {
  const { rowCount } = await db.query(pruneSql, [retentionSeconds, batch]);
  return rowCount;
}

/** Options, mostly for tests. */
export interface RelayOptions {
  sinks: OutboxSink[];
  holderId?: string;
  /** Pause between rounds (default from config; must keep batches within 250 ms). */
  pollMs?: number;
}

/** What one round did. */
export interface RelayRound {
  stamped: number;
  published: number;
  fenced: boolean;
}

/** Competes for the relay lease and, while leader, stamps, publishes and prunes. */
export class OutboxRelay {
  readonly elector: LeaderElector;
  private readonly sinks: OutboxSink[];
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<unknown> = Promise.resolve();
  private rounds = 0;

  constructor(private readonly ctx: AppContext, options: RelayOptions) {
    this.sinks = [...options.sinks];
    this.pollMs = options.pollMs ?? ctx.config.live.relayPollMs;
    this.elector = new LeaderElector(ctx.leases ?? ctx.coord, {
      name: relayLease,
      holderId: options.holderId ?? `${hostname()}:${process.pid}:${randomToken(6)}`,
      ttlMs: ctx.config.live.relayLeaderTtlMs,
      logger: ctx.logger,
    });
  }

  /** Adds a sink (before start, or between rounds); it sees rows from the next round. */
  addSink(sink: OutboxSink): void {
    this.sinks.push(sink);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.elector.start();
    this.schedule(this.pollMs);
  }

  /** Stops after the round in flight and hands the lease back. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.round.catch(() => undefined);
    await this.elector.stop();
  }

  /**
   * One round if this node leads: stamp what committed since the last round, publish
   * every stamped row not yet published (including an earlier round's unfinished ones),
   * and now and then prune.
   */
  async runOnce(): Promise<RelayRound> {
    const result: RelayRound = { stamped: 0, published: 0, fenced: false };
    const token = this.elector.fencingToken();
    if (token === null) return result;
    const stamped = await stampOutbox(this.ctx.db, token);
    if (stamped.kind === 'fenced') {
      this.ctx.logger.warn({ token, newerToken: stamped.newerToken },
        'outbox stamp refused: a newer relay leader is active');
      result.fenced = true;
      return result;
    }
    result.stamped = stamped.rows;
    result.published = await this.publishPending();
    if (++this.rounds % limits.outboxPruneEveryRounds === 0) await prunePublished(this.ctx.db);
    return result;
  }

  /** Hands stamped rows to every sink, then marks them; a failing sink leaves them. */
  private async publishPending(): Promise<number> {
    let published = 0;
    // Bounded: a backlog is drained over a few loops, then the next round goes on.
    for (let loop = 0; loop < 4; loop++) {
      const rows = await unpublishedRows(this.ctx.db);
      if (rows.length === 0) break;
      for (const sink of this.sinks) await sink(rows);
      await markPublished(this.ctx.db, rows);
      published += rows.length;
      if (rows.length < limits.outboxRelayBatch) break;
    }
    return published;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      const run = this.runOnce();
      this.round = run;
      run
        .then((done) => this.schedule(done.stamped >= limits.outboxRelayBatch ? 0 : this.pollMs))
        .catch((error: unknown) => {
          this.ctx.logger.warn({ err: error }, 'outbox relay round failed; retrying');
          this.schedule(this.pollMs * 5);
        });
    }, delayMs);
    this.timer.unref();
  }
}
