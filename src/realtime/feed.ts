/**
 * The live feed between nodes: the relay's sink publishes each event's committed rows as
 * one compact batch on that event's coordination channel (Redis pub/sub across nodes,
 * in-process when embedded); every node with live clients for the event subscribes.
 *
 * A batch carries every row of the event with its version, including kinds the feed does
 * not render, so versions arrive without holes and a node can tell a lost batch (a gap)
 * from a duplicate. Tickets travel as numbers (layout order) plus seat ids; nodes apply
 * them to the seat states they keep in memory.
 */
import type { Coordinator } from '../coord/index.js';
import type { OutboxRow, OutboxSink } from '../outbox/relay.js';

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
