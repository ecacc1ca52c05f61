/**
 * From committed outbox rows to notices: who is told what. Only the kinds a customer
 * cares about become notices; seat changes and anything unknown are skipped.
 */
import { limits } from '../config/limits.js';
import type { OutboxRow } from '../outbox/relay.js';
import type { Queryable } from '../storage/index.js';
import type { Notice, NoticeKind } from './types.js';

const noticeKinds: ReadonlySet<string> = new Set<NoticeKind>([
  'queue.admitted', 'waitlist.offered', 'order.confirmed', 'order.payment_failed',
  'order.refunded', 'event.cancelled', 'queue.closed',
]);

interface Payload {
  customerId?: unknown;
  customerIds?: unknown;
  holdId?: unknown;
  orderId?: unknown;
  quantity?: unknown;
  expiresAt?: unknown;
  amountCents?: unknown;
  currency?: unknown;
  reason?: unknown;
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function money(cents: unknown, currency: unknown): string {
  const amount = typeof cents === 'number' ? (cents / 100).toFixed(2) : '';
  return `${amount} ${str(currency) ?? ''}`.trim();
}

/** Title and body of one notice, in plain words. */
function wording(kind: NoticeKind, title: string, p: Payload): { title: string; body: string } {
  switch (kind) {
    case 'waitlist.offered': {
      const until = str(p.expiresAt) ?? 'the timer ends';
      const count = typeof p.quantity === 'number' ? p.quantity : 'Your';
      return { title: `Tickets for you: ${title}`,
        body: `${count} ticket(s) came back and are held for you until ${until}. ` +
          'Check out before then, or they pass to the next fan on the waitlist.' };
    }
    case 'order.confirmed':
      return { title: `Order confirmed: ${title}`,
        body: `Your order is confirmed (${money(p.amountCents, p.currency)}). ` +
          'Your tickets are in your order.' };
    case 'order.payment_failed':
      return { title: `Payment failed: ${title}`,
        body: `Your payment did not go through (${str(p.reason) ?? 'declined'}).` };
    case 'order.refunded':
      return { title: `Refund on its way: ${title}`,
        body: `We are refunding ${money(p.amountCents, p.currency)}` +
          `${str(p.reason) === undefined ? '' : ` (${str(p.reason)})`}.` };
    case 'event.cancelled':
      return { title: `Cancelled: ${title}`,
        body: 'The organizer cancelled this event. Paid orders are refunded.' };
    case 'queue.admitted':
      return { title: `It's your turn: ${title}`,
        body: 'You are through the queue. Pick your tickets before your pass expires.' };
    case 'queue.closed':
      return { title: `Sold out: ${title}`,
        body: 'The queue has closed: there are no tickets left to sell.' };
  }
}

/** Customers to tell about a cancelled event: buyers, holders and waitlisted fans. */
async function cancelledAudience(db: Queryable, eventId: string): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>(
    `SELECT customer_id FROM orders WHERE event_id = $1 AND status = 'confirmed'
     UNION
     SELECT customer_id FROM holds WHERE event_id = $1 AND state = 'held'
     UNION
     SELECT customer_id FROM waitlist_entries
      WHERE event_id = $1 AND status IN ('waiting', 'offered')
     LIMIT $2`,
    [eventId, limits.notifyAudienceMax],
  );
  return rows.map((row) => row.customer_id);
}

/** Who a row is for. */
async function audience(db: Queryable, row: OutboxRow, p: Payload): Promise<string[]> {
  if (row.kind === 'event.cancelled') return await cancelledAudience(db, row.eventId);
  if (Array.isArray(p.customerIds)) {
    return p.customerIds.filter((id): id is string => typeof id === 'string')
      .slice(0, limits.notifyAudienceMax);
  }
  const one = str(p.customerId);
  return one === undefined ? [] : [one];
}

/** The notices the rows give rise to, in row order. */
export async function composeNotices(
  db: Queryable, rows: readonly OutboxRow[],
): Promise<Notice[]> {
  const relevant = rows.filter((row) => noticeKinds.has(row.kind));
  if (relevant.length === 0) return [];
  const eventIds = [...new Set(relevant.map((row) => row.eventId))];
  const { rows: events } = await db.query<{ event_id: string; title: string }>(
    'SELECT event_id, title FROM events WHERE event_id = ANY($1::uuid[])', [eventIds],
  );
  const titleOf = new Map(events.map((event) => [event.event_id, event.title]));
  const notices: Notice[] = [];
  for (const row of relevant) {
    const p = (row.payload ?? {}) as Payload;
    const kind = row.kind as NoticeKind;
    const words = wording(kind, titleOf.get(row.eventId) ?? 'your event', p);
    const holdId = str(p.holdId);
    const orderId = str(p.orderId);
    for (const customerId of await audience(db, row, p)) {
      notices.push({
        outboxId: row.outboxId, customerId, kind, eventId: row.eventId, ...words,
        ...(holdId === undefined ? {} : { holdId }),
        ...(orderId === undefined ? {} : { orderId }),
        at: row.createdAt.toISOString(),
      });
    }
  }
  return notices;
}
