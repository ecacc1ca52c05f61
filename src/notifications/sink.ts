/**
 * The notifier's outbox sink and its e-mail dispatcher.
 *
 * At least once, deduplicated: each notice is first claimed as a `notifications` row,
 * unique per (outbox row, customer, channel), then delivered and marked sent. A
 * redelivered outbox row (the relay is at least once) finds its rows: sent ones are not
 * sent again, unsent stream ones are published again.
 *
 * The live stream is published inside the sink (one coordination publish per chunk, as
 * cheap as the live feed's). E-mail is not: an SMTP round trip per message would hold up
 * the relay and with it every seat map, and a mail server outage would stall it. So the
 * sink only records e-mail rows, and the dispatcher sends them on its own loop, leasing
 * each row while it sends (a crash mid-send is a retry after the lease) and backing off
 * on refusals.
 */
import { limits } from '../config/limits.js';
import type { OutboxSink } from '../outbox/relay.js';
import type { Db, Queryable } from '../storage/index.js';
import { composeNotices } from './compose.js';
import type { Channel, Delivery, Notice, NoticeKind, Notifier } from './types.js';

interface Claimed {
  notification_id: string;
  outbox_id: string;
  customer_id: string;
}

const keyOf = (outboxId: number | string, customerId: string): string =>
  `${outboxId}/${customerId}`;

function content(notice: Notice): object {
  return {
    title: notice.title, body: notice.body, at: notice.at,
    ...(notice.holdId === undefined ? {} : { holdId: notice.holdId }),
    ...(notice.orderId === undefined ? {} : { orderId: notice.orderId }),
  };
}

/**
 * Records notices for a channel. Returns those to deliver now: new rows, and (when
 * `resend`) rows a previous attempt claimed but never marked sent.
 */
async function claim(
  db: Queryable, channel: Channel, notices: readonly Notice[], resend: boolean,
): Promise<Delivery[]> {
  const records = notices.map((notice) => ({
    outbox_id: notice.outboxId, customer_id: notice.customerId, channel,
    event_id: notice.eventId, kind: notice.kind, content: content(notice),
  }));
  const { rows } = await db.query<Claimed>(
    `INSERT INTO notifications (outbox_id, customer_id, channel, event_id, kind, content)
     SELECT outbox_id, customer_id, channel, event_id, kind, content
       FROM jsonb_to_recordset($1::jsonb) AS x (outbox_id bigint, customer_id uuid,
            channel text, event_id uuid, kind text, content jsonb)
     ON CONFLICT (outbox_id, customer_id, channel) DO UPDATE
        SET attempts = notifications.attempts
      WHERE $2 AND notifications.sent_at IS NULL
     RETURNING notification_id, outbox_id, customer_id`,
    [JSON.stringify(records), resend],
  );
  const byKey = new Map(notices.map((notice) => [keyOf(notice.outboxId, notice.customerId),
    notice]));
  return rows.flatMap((row) => {
    const notice = byKey.get(keyOf(row.outbox_id, row.customer_id));
    return notice === undefined ? [] : [{ id: Number(row.notification_id), notice, email: '' }];
  });
}

async function markSent(db: Queryable, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    'UPDATE notifications SET sent_at = now() WHERE notification_id = ANY($1::bigint[])', [ids],
  );
}

/** Deletes up to a batch of notification rows past their retention. */
export async function pruneNotifications(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM notifications WHERE notification_id IN (
       SELECT notification_id FROM notifications
        WHERE created_at < now() - make_interval(hours => $1) LIMIT 10000)`,
    [limits.notifyRetentionHours],
  );
  return rowCount;
}

/** What the sink needs. */
export interface SinkOptions {
  db: Db;
  /** The live channel, published within the sink. */
  stream: Notifier;
  /** When set, notices are also recorded for e-mail, and this is called to send them. */
  email?: { wake(): void };
}

/** The outbox sink that turns customer-facing rows into notifications. */
export function notificationSink(options: SinkOptions): OutboxSink {
  let calls = 0;
  return async (rows) => {
    const notices = await composeNotices(options.db, rows);
    if (notices.length > 0) {
      if (options.email !== undefined) {
        await claim(options.db, 'email', notices, false);
        options.email.wake();
      }
      const deliveries = await claim(options.db, 'stream', notices, true);
      // A failed publish rejects: the relay keeps the rows and sends them again.
      const delivered = deliveries.length === 0 ? [] : await options.stream.deliver(deliveries);
      await markSent(options.db, delivered);
    }
    if (++calls % 500 === 0) await pruneNotifications(options.db);
  };
}

interface Leased {
  notification_id: string; outbox_id: string; customer_id: string; event_id: string;
  kind: NoticeKind; content: { title: string; body: string; holdId?: string; orderId?: string;
    at: string };
  email: string | null; attempts: number;
}

/** Leases up to a batch of due e-mail rows (skipping rows another sender holds). */
async function leaseEmails(db: Db): Promise<Leased[]> {
  return await db.tx(async (tx) => (await tx.query<Leased>(
    `WITH due AS (
       SELECT notification_id FROM notifications
        WHERE channel = 'email' AND sent_at IS NULL AND next_attempt_at <= now()
          AND attempts < $2
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     UPDATE notifications n
        SET attempts = n.attempts + 1,
            next_attempt_at = now() + make_interval(secs => $3)
       FROM due WHERE n.notification_id = due.notification_id
     RETURNING n.notification_id, n.outbox_id, n.customer_id, n.event_id, n.kind, n.content,
               n.attempts, (SELECT c.email FROM customers c
                             WHERE c.customer_id = n.customer_id) AS email`,
    [limits.notifyEmailBatch, limits.notifyEmailAttempts, limits.notifyEmailLeaseSeconds],
  )).rows);
}

/** Sends e-mail notifications recorded by the sink, on its own loop. */
export class EmailDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pass: Promise<unknown> = Promise.resolve();
  private again = false;

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly logger: { warn(obj: object, msg?: string): void },
    private readonly everyMs = 1_000,
  ) {}

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.pass.catch(() => undefined);
  }

  /** New rows are waiting: send soon rather than at the next poll. */
  wake(): void {
    this.again = true;
    if (this.running) this.schedule(0);
  }

  /** One pass: lease due rows, send them, mark what was sent. Returns how many were sent. */
  async runOnce(): Promise<number> {
    const leased = await leaseEmails(this.db);
    if (leased.length === 0) return 0;
    const deliveries: Delivery[] = leased.flatMap((row) => row.email === null ? [] : [{
      id: Number(row.notification_id), email: row.email,
      notice: { outboxId: Number(row.outbox_id), customerId: row.customer_id,
        kind: row.kind, eventId: row.event_id, ...row.content },
    }]);
    const sent = await this.notifier.deliver(deliveries);
    await markSent(this.db, sent);
    const done = new Set(sent);
    const failed = leased.filter((row) => !done.has(Number(row.notification_id)));
    if (failed.length > 0) {
      // Back off: 2, 4, 8 … seconds, at most 5 minutes, instead of the full lease.
      await this.db.query(
        `UPDATE notifications
            SET next_attempt_at = now() + make_interval(secs => least(300, 2 ^ attempts))
          WHERE notification_id = ANY($1::bigint[]) AND sent_at IS NULL`,
        [failed.map((row) => row.notification_id)],
      );
      const lost = failed.filter((row) => row.attempts >= limits.notifyEmailAttempts);
      if (lost.length > 0) {
        this.logger.warn({ notificationIds: lost.map((row) => row.notification_id) },
          'notification e-mails given up after the last attempt');
      }
    }
    return sent.length;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.again = false;
      const run = this.pass.then(() => this.runOnce());
      this.pass = run;
      run.then((sent) => {
        if (sent >= limits.notifyEmailBatch || this.again) this.schedule(0);
        else this.schedule(this.everyMs);
      }).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'notification e-mail pass failed; retrying');
        this.schedule(this.everyMs * 5);
      });
    }, delayMs);
    this.timer.unref();
  }
}
