/**
 * What clients were told. Every reply the simulated crowd gets is seen here; the holds,
 * orders, payments and cancellations the server acknowledged are listed, and afterwards
 * each one is looked up in PostgreSQL: an acknowledged hold, order or payment that is not
 * there (or not in the state the client was told) was lost.
 */
import type { JsonReply } from '../sim/http.js';
import type { Queryable } from '../src/storage/index.js';

/** A write the server acknowledged, at a time relative to the start of the run. */
interface AckedWrite {
  atMs: number;
}

/** Lost acknowledgements, by kind, with a few ids for the report. */
export interface AckCheck {
  holds: number;
  orders: number;
  confirmed: number;
  cancellations: number;
  lost: { kind: string; id: string; why: string }[];
}

const holdPath = /^\/api\/v1\/events\/[^/]+\/holds$/;
const checkoutPath = /^\/api\/v1\/holds\/([^/]+)\/checkout$/;
const orderPath = /^\/api\/v1\/orders\/([^/]+)$/;
const cancelPath = /^\/api\/v1\/orders\/([^/]+)\/cancel$/;

/** Collects acknowledgements and client-visible errors as the run goes. */
export class AckLog {
  readonly holds = new Set<string>();
  /** Order id to the last status a client was shown. */
  readonly orders = new Map<string, string>();
  readonly cancelled = new Set<string>();
  /** Times of acknowledged writes (holds and orders), for recovery times. */
  readonly writes: AckedWrite[] = [];
  /** Times of requests that got no reply or a 5xx. */
  readonly errors: number[] = [];
  /** When the crowd last sent anything (after it, the sale was over for the simulator). */
  lastReplyAtMs = 0;
  /** Times of hold and checkout requests the server decided (any status below 500). */
  readonly answeredWrites: number[] = [];
  /** When the crowd last asked for a hold or a checkout, answered or not. */
  lastWriteTryAtMs = 0;
  private readonly startedAt = performance.now();

  now(): number {
    return performance.now() - this.startedAt;
  }

  /** The SimClient observer. */
  readonly observe = (method: string, path: string, reply: JsonReply | undefined): void => {
    const atMs = this.now();
    this.lastReplyAtMs = atMs;
    const writeTry = method === 'POST' && (holdPath.test(path) || checkoutPath.test(path));
    if (writeTry) this.lastWriteTryAtMs = atMs;
    if (writeTry && reply !== undefined && reply.status < 500) this.answeredWrites.push(atMs);
    if (reply === undefined || reply.status >= 500) {
      this.errors.push(atMs);
      return;
    }
    if (method === 'POST' && holdPath.test(path) && reply.status === 201) {
      this.holds.add(String(reply.body.holdId));
      this.writes.push({ atMs });
      return;
    }
    if (method === 'POST' && checkoutPath.test(path) && (reply.status === 201
      || reply.status === 200) && typeof reply.body.orderId === 'string') {
      this.orders.set(reply.body.orderId, String(reply.body.status));
      this.writes.push({ atMs });
      return;
    }
    const cancel = cancelPath.exec(path);
    if (method === 'POST' && cancel && reply.status === 200) {
      this.cancelled.add(cancel[1] as string);
      return;
    }
    const order = orderPath.exec(path);
    if (method === 'GET' && order && reply.status === 200 && this.orders.has(order[1] as string)) {
      this.orders.set(order[1] as string, String(reply.body.status));
    }
  };

  /**
   * Milliseconds from `fromMs` to the first hold or checkout the server decided after it,
   * a refusal included (null: none): the write path was serving again.
   */
  firstAnsweredWriteAfter(fromMs: number): number | null {
    const next = this.answeredWrites.find((atMs) => atMs >= fromMs);
    return next === undefined ? null : next - fromMs;
  }

  /** Milliseconds from `fromMs` to the first acknowledged write after it (null: none). */
  firstWriteAfter(fromMs: number): number | null {
    const next = this.writes.find((w) => w.atMs >= fromMs);
    return next === undefined ? null : next.atMs - fromMs;
  }

  /**
   * The longest time without an acknowledged write within [fromMs, toMs], ending at the
   * last write of the run (after it the sale was over, not paused).
   */
  longestPause(fromMs: number, toMs: number): number {
    let last = fromMs;
    let longest = 0;
    for (const write of this.writes) {
      if (write.atMs < fromMs) continue;
      if (write.atMs > toMs) break;
      longest = Math.max(longest, write.atMs - last);
      last = write.atMs;
    }
    return longest;
  }

  errorsBetween(fromMs: number, toMs: number): number {
    return this.errors.filter((t) => t >= fromMs && t <= toMs).length;
  }

  /** Looks every acknowledgement up in the database. */
  async check(db: Queryable): Promise<AckCheck> {
    const lost: AckCheck['lost'] = [];
    const holdIds = [...this.holds];
    const { rows: holdRows } = await db.query<{ hold_id: string; items: number }>(
      `SELECT h.hold_id::text, (SELECT count(*)::int FROM hold_items i
          WHERE i.hold_id = h.hold_id) AS items
         FROM holds h WHERE h.hold_id = ANY($1::uuid[])`, [holdIds]);
    const foundHolds = new Map(holdRows.map((row) => [row.hold_id, row.items]));
    for (const id of holdIds) {
      if (!foundHolds.has(id)) lost.push({ kind: 'hold', id, why: 'not in the database' });
      else if (foundHolds.get(id) === 0) lost.push({ kind: 'hold', id, why: 'no items' });
    }
    const orderIds = [...this.orders.keys()];
    const { rows: orderRows } = await db.query<{ order_id: string; status: string;
      captured: number; refunds: number }>(
      `SELECT o.order_id::text, o.status,
              (SELECT count(*)::int FROM payments p
                WHERE p.order_id = o.order_id AND p.status = 'captured') AS captured,
              (SELECT count(*)::int FROM refunds r WHERE r.order_id = o.order_id) AS refunds
         FROM orders o WHERE o.order_id = ANY($1::uuid[])`, [orderIds]);
    const found = new Map(orderRows.map((row) => [row.order_id, row]));
    let confirmed = 0;
    for (const [id, told] of this.orders) {
      const row = found.get(id);
      if (row === undefined) {
        lost.push({ kind: 'order', id, why: 'not in the database' });
        continue;
      }
      if (told !== 'confirmed') continue;
      confirmed += 1;
      if (row.captured === 0) lost.push({ kind: 'payment', id, why: 'confirmed without capture' });
      const cancelledByClient = this.cancelled.has(id);
      if (row.status === 'confirmed') continue;
      if (row.status === 'cancelled' && cancelledByClient) continue;
      lost.push({ kind: 'order', id, why: `told confirmed, now ${row.status}` });
    }
    for (const id of this.cancelled) {
      const row = found.get(id);
      if (row !== undefined && (row.status !== 'cancelled' || row.refunds === 0)) {
        const why = `status ${row.status}, refunds ${row.refunds}`;
        lost.push({ kind: 'cancellation', id, why });
      }
    }
    return {
      holds: holdIds.length, orders: orderIds.length, confirmed,
      cancellations: this.cancelled.size, lost,
    };
  }
}
