/**
 * The live channel: notices travel to every node over one coordination channel (Redis
 * pub/sub across nodes, in-process when embedded); each node hands them to the customers'
 * open streams it serves. One subscription per node, however many customers are connected.
 */
import { limits } from '../config/limits.js';
import type { Coordinator, CoordLogger, Unsubscribe } from '../coord/index.js';
import type { Queryable } from '../storage/index.js';
import {
  toMessage, type Delivery, type NotificationMessage, type NoticeKind, type Notifier,
} from './types.js';

interface WireItem {
  customerId: string;
  message: NotificationMessage;
}

/** The coordination channel notices travel on between nodes. */
export function notifyChannel(coord: Coordinator): string {
  return coord.keys.global('notify');
}

/** Publishes deliveries to every node (fire and forget once published). */
export class StreamNotifier implements Notifier {
  readonly channel = 'stream' as const;

  constructor(private readonly coord: Coordinator) {}

  async deliver(deliveries: readonly Delivery[]): Promise<readonly number[]> {
    for (let at = 0; at < deliveries.length; at += limits.notifyPublishChunk) {
      const chunk = deliveries.slice(at, at + limits.notifyPublishChunk);
      const items: WireItem[] = chunk.map((delivery) => ({
        customerId: delivery.notice.customerId, message: toMessage(delivery),
      }));
      await this.coord.publish(notifyChannel(this.coord), JSON.stringify(items));
    }
    return deliveries.map((delivery) => delivery.id);
  }
}

type Listener = (message: NotificationMessage) => void;

function parseItems(raw: string): WireItem[] {
  try {
    const value = JSON.parse(raw) as unknown;
    if (!Array.isArray(value)) return [];
    return value.filter((item: Partial<WireItem>) => typeof item?.customerId === 'string'
      && typeof item.message?.id === 'number') as WireItem[];
  } catch {
    return [];
  }
}

/** This node's customer streams: one subscription, listeners by customer. */
export class CustomerStreamHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private subscribed: Promise<Unsubscribe> | undefined;

  constructor(private readonly coord: Coordinator, private readonly logger: CoordLogger) {}

  /** Calls `listener` with every notice for the customer until the returned function runs. */
  async listen(customerId: string, listener: Listener): Promise<() => void> {
    let mine = this.listeners.get(customerId);
    if (mine === undefined) {
      mine = new Set();
      this.listeners.set(customerId, mine);
    }
    mine.add(listener);
    const stop = (): void => {
      const set = this.listeners.get(customerId);
      set?.delete(listener);
      if (set?.size === 0) this.listeners.delete(customerId);
    };
    this.subscribed ??= this.coord.subscribe(notifyChannel(this.coord),
      (raw) => this.dispatch(raw));
    try {
      await this.subscribed;
    } catch (error) {
      this.subscribed = undefined;
      stop();
      throw error;
    }
    return stop;
  }

  private dispatch(raw: string): void {
    for (const item of parseItems(raw)) {
      for (const listener of [...(this.listeners.get(item.customerId) ?? [])]) {
        try {
          listener(item.message);
        } catch (error) {
          this.logger.warn({ err: error }, 'customer stream listener threw');
        }
      }
    }
  }
}

const hubs = new WeakMap<Coordinator, CustomerStreamHub>();

/** The node's hub for a coordinator (one per process and coordinator). */
export function customerStreams(coord: Coordinator, logger: CoordLogger): CustomerStreamHub {
  let hub = hubs.get(coord);
  if (hub === undefined) {
    hub = new CustomerStreamHub(coord, logger);
    hubs.set(coord, hub);
  }
  return hub;
}

/** Stream notices after `afterId` for a reconnecting client, oldest first. */
export async function replayNotifications(
  db: Queryable, customerId: string, afterId: number,
): Promise<NotificationMessage[]> {
  const { rows } = await db.query<{
    notification_id: string; kind: NoticeKind; event_id: string;
    content: { title: string; body: string; holdId?: string; orderId?: string; at: string };
  }>(
    `SELECT notification_id, kind, event_id, content FROM notifications
      WHERE customer_id = $1 AND channel = 'stream' AND notification_id > $2
      ORDER BY notification_id LIMIT $3`,
    [customerId, afterId, limits.notifyReplayMax],
  );
  return rows.map((row) => ({
    id: Number(row.notification_id), kind: row.kind, eventId: row.event_id, ...row.content,
  }));
}
