/**
 * Notifications: facts a customer is told about (an offer, an order outcome, an admission,
 * a cancelled event), derived from committed outbox rows and delivered through channels
 * that all implement one `Notifier` interface.
 */

/** Kinds a customer is notified of (outbox kinds of the same names). */
export type NoticeKind = 'queue.admitted' | 'waitlist.offered' | 'order.confirmed'
  | 'order.payment_failed' | 'order.refunded' | 'event.cancelled' | 'queue.closed';

/** How a notice reaches the customer. */
export type Channel = 'stream' | 'email';

/** One thing to tell one customer, derived from one outbox row. */
export interface Notice {
  outboxId: number;
  customerId: string;
  kind: NoticeKind;
  eventId: string;
  title: string;
  body: string;
  holdId?: string;
  orderId?: string;
  /** When the fact was committed (the outbox row's time), ISO 8601. */
  at: string;
}

/** A notice claimed for one channel: `id` is its notifications row (the SSE id). */
export interface Delivery {
  id: number;
  notice: Notice;
  /** The customer's address, for channels that need one. */
  email: string;
}

/**
 * A delivery channel. `deliver` returns the ids it delivered; anything missing is retried
 * when the outbox row comes again (at least once), never re-sent once delivered.
 */
export interface Notifier {
  readonly channel: Channel;
  deliver(deliveries: readonly Delivery[]): Promise<readonly number[]>;
}

/** What a live stream client receives (`event: notification`). */
export interface NotificationMessage {
  id: number;
  kind: NoticeKind;
  eventId: string;
  title: string;
  body: string;
  holdId?: string;
  orderId?: string;
  at: string;
}

/** The message form of a delivery. */
export function toMessage(delivery: Delivery): NotificationMessage {
  const { notice } = delivery;
  return {
    id: delivery.id, kind: notice.kind, eventId: notice.eventId, title: notice.title,
    body: notice.body, at: notice.at,
    ...(notice.holdId === undefined ? {} : { holdId: notice.holdId }),
    ...(notice.orderId === undefined ? {} : { orderId: notice.orderId }),
  };
}
