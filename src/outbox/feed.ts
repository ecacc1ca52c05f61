/**
 * The live feed between nodes: the relay's sink publishes each event's committed rows as
 * one compact batch on that event's coordination channel (Redis pub/sub across nodes,
 * in-process when embedded); every node with live clients for the event subscribes.
 *
 * A batch carries every row of the event with its version, including kinds the feed does
 * not render, so versions arrive without holes and a node can tell a lost batch (a gap)
 * from a duplicate. Tickets travel as numbers (layout order) plus seat ids; nodes apply
 * them to the seat states they keep in memory.
 *
 * A node follows an event's feed through one subscription however many of its parts read
 * it (`FeedFollower`): the live hub while it has clients, the zone views that best
 * available picks from while they are kept (inventory/zoneView.ts). It lives here, beside
 * the relay that publishes it, so both can import it without importing each other.
 */
import type { Coordinator, Unsubscribe } from '../coord/index.js';
import type { OutboxRow, OutboxSink } from './relay.js';

/** What a row does to the feed. */
export type FeedEffect = 'held' | 'available' | 'sold' | 'end' | 'none';

/** One outbox row as the feed needs it: `[ticketNo, seatId | null]` per ticket. */
export interface FeedRow {
  version: number;
  effect: FeedEffect;
  tickets: [number, string | null][];
}

/** One event's rows from one relay round, in version order. */
export interface FeedBatch {
  eventId: string;
  rows: FeedRow[];
}

const effectOfKind: Record<string, FeedEffect> = {
  'seats.held': 'held',
  'seats.released': 'available',
  'seats.sold': 'sold',
  'event.cancelled': 'end',
};

/** The channel an event's feed batches travel on. */
export function feedChannel(coord: Coordinator, eventId: string): string {
  return coord.keys.event(eventId, 'live');
}

function ticketsOf(payload: unknown): [number, string | null][] {
  const tickets = (payload as { tickets?: unknown } | null)?.tickets;
  if (!Array.isArray(tickets)) return [];
  const out: [number, string | null][] = [];
  for (const ticket of tickets as { ticketNo?: unknown; seatId?: unknown }[]) {
    if (typeof ticket.ticketNo !== 'number') continue;
    out.push([ticket.ticketNo, typeof ticket.seatId === 'string' ? ticket.seatId : null]);
  }
  return out;
}

/** Turns outbox rows into one feed batch per event (rows sorted by version). */
export function feedBatches(rows: readonly OutboxRow[]): FeedBatch[] {
  const byEvent = new Map<string, FeedRow[]>();
  for (const row of rows) {
    const effect = effectOfKind[row.kind] ?? 'none';
    const feedRow: FeedRow = {
      version: row.version, effect,
      tickets: effect === 'none' || effect === 'end' ? [] : ticketsOf(row.payload),
    };
    const list = byEvent.get(row.eventId);
    if (list === undefined) byEvent.set(row.eventId, [feedRow]);
    else list.push(feedRow);
  }
  return [...byEvent].map(([eventId, list]) => ({
    eventId, rows: list.sort((a, b) => a.version - b.version),
  }));
}

/** Reads a batch from the wire; undefined when it is not one. */
export function parseFeedBatch(message: string): FeedBatch | undefined {
  try {
    const value = JSON.parse(message) as Partial<FeedBatch>;
    if (typeof value.eventId !== 'string' || !Array.isArray(value.rows)) return undefined;
    const ok = value.rows.every((row: Partial<FeedRow>) => typeof row.version === 'number'
      && typeof row.effect === 'string' && Array.isArray(row.tickets));
    return ok ? (value as FeedBatch) : undefined;
  } catch {
    return undefined;
  }
}

/** The relay sink that publishes per-event batches on coordination pub/sub. */
export function liveFeedSink(coord: Coordinator): OutboxSink {
  return async (rows) => {
    // One publish per event; a failure rejects, so the relay retries the rows (at least once).
    await Promise.all(feedBatches(rows).map((batch) =>
      coord.publish(feedChannel(coord, batch.eventId), JSON.stringify(batch))));
  };
}

/** A reader of one event's feed batches (parsed once per node, in arrival order). */
export type FeedListener = (batch: FeedBatch) => void;

/** Where a follower logs what it drops. */
interface FeedLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

interface Followed {
  listeners: Set<FeedListener>;
  subscribed: Promise<Unsubscribe>;
}

/**
 * One node's subscriptions to event feeds: one coordination subscription per event while
 * anything on the node follows it, each batch parsed once and handed to every follower.
 */
export class FeedFollower {
  private readonly events = new Map<string, Followed>();

  constructor(private readonly coord: Coordinator, private readonly logger: FeedLogger) {}

  /**
   * Follows the event's feed; resolves once subscribed (a read started after that misses
   * nothing published since). The returned function stops following; the last one out
   * unsubscribes.
   */
  async follow(eventId: string, listener: FeedListener): Promise<Unsubscribe> {
    let followed = this.events.get(eventId);
    if (followed === undefined) {
      const created: Followed = { listeners: new Set(), subscribed: Promise.resolve(noop) };
      created.subscribed = this.coord.subscribe(feedChannel(this.coord, eventId),
        (message) => this.deliver(eventId, created, message));
      this.events.set(eventId, created);
      followed = created;
    }
    const entry = followed;
    // Wrapped, so one listener following twice gets two independent registrations.
    const registered: FeedListener = (batch) => listener(batch);
    entry.listeners.add(registered);
    try {
      await entry.subscribed;
    } catch (error) {
      await this.drop(eventId, entry, registered);
      throw error;
    }
    return async () => this.drop(eventId, entry, registered);
  }

  /** True while something on this node follows the event. */
  follows(eventId: string): boolean {
    return this.events.has(eventId);
  }

  private deliver(eventId: string, entry: Followed, message: string): void {
    const batch = parseFeedBatch(message);
    if (batch === undefined || batch.eventId !== eventId) {
      this.logger.warn({ eventId }, 'unreadable live feed batch dropped');
      return;
    }
    for (const listener of [...entry.listeners]) {
      // One follower's failure must not cost the others the batch (they would see a gap).
      try {
        listener(batch);
      } catch (error) {
        this.logger.warn({ err: error, eventId }, 'live feed follower failed on a batch');
      }
    }
  }

  private async drop(eventId: string, entry: Followed, listener: FeedListener): Promise<void> {
    if (!entry.listeners.delete(listener) || entry.listeners.size > 0) return;
    if (this.events.get(eventId) === entry) this.events.delete(eventId);
    try {
      const unsubscribe = await entry.subscribed;
      await unsubscribe();
    } catch (error) {
      this.logger.warn({ err: error, eventId }, 'live feed unsubscribe failed');
    }
  }
}

const noop: Unsubscribe = async () => undefined;

const followers = new WeakMap<Coordinator, FeedFollower>();

/** The feed follower of a node's coordinator (one per coordinator). */
export function feedFollower(coord: Coordinator, logger: FeedLogger): FeedFollower {
  let follower = followers.get(coord);
  if (follower === undefined) {
    follower = new FeedFollower(coord, logger);
    followers.set(coord, follower);
  }
  return follower;
}
