/**
 * Events: a performance at a venue, its price zones, on-sale time and sale rules. Creating
 * one materializes its tickets in the same transaction.
 */
import type { Clock } from '../core/clock.js';
import { DomainError, invalid } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import { zoneCounts, type ZoneCounts } from '../inventory/availability.js';
import { insertTickets, layoutTickets, sectionCapacity } from '../inventory/tickets.js';
import type { Queryable, Db } from '../storage/index.js';
import { analyzeAfterLoad } from '../storage/maintenance.js';
import type {
  EventDetails, EventInput, EventStatus, EventSummary, QueueSettings, SectionInput,
  Venue, ZoneAvailability,
} from './schemas.js';
import { findVenue } from './venues.js';

/** An event row as stored, with its zones, before availability is attached. */
export interface EventRecord {
  eventId: string;
  venueId: string;
  title: string;
  description: string;
  performers: string[];
  venueName: string;
  city: string;
  startsAtMs: number;
  onSaleAtMs: number;
  holdSeconds: number;
  holdExtensionSeconds: number;
  maxTicketsPerCustomer: number;
  queue: QueueSettings;
  capacity: number;
  cancelled: boolean;
  zones: ZoneRecord[];
}

export interface ZoneRecord {
  key: string;
  name: string;
  priceCents: number;
  currency: string;
  sections: string[];
  capacity: number;
}

interface EventRow {
  event_id: string; venue_id: string; title: string; description: string;
  performers: string[]; venue_name: string; city: string; starts_at: Date; on_sale_at: Date;
  hold_seconds: number; hold_extension_seconds: number; max_tickets_per_customer: number;
  queue: QueueSettings; capacity: number; cancelled_at: Date | null;
}

interface ZoneRow {
  event_id: string; zone_key: string; name: string; price_cents: number; currency: string;
  sections: string[]; capacity: number;
}

/** Columns selected for an EventRecord; callers may add their own. */
export const eventColumns = `e.event_id, e.venue_id, e.title, e.description, e.performers,
  e.venue_name, e.city, e.starts_at, e.on_sale_at, e.hold_seconds, e.hold_extension_seconds,
  e.max_tickets_per_customer, e.queue, e.capacity, e.cancelled_at`;

/** Checks zone coverage and times against the venue; returns the section → zone map. */
function validateEvent(input: EventInput, venue: Venue, nowMs: number): Map<string, string> {
  const startsAtMs = Date.parse(input.startsAt);
  const onSaleAtMs = Date.parse(input.onSaleAt);
  if (startsAtMs <= nowMs) throw invalid('/startsAt', 'must be in the future');
  if (onSaleAtMs > startsAtMs) throw invalid('/onSaleAt', 'must not be after startsAt');
  const venueSections = new Set(venue.sections.map((section) => section.key));
  const zoneOf = new Map<string, string>();
  const zoneKeys = new Set<string>();
  const currency = input.zones[0]?.currency;
  input.zones.forEach((zone, i) => {
    if (zoneKeys.has(zone.key)) throw invalid(`/zones/${i}/key`, `duplicate zone "${zone.key}"`);
    zoneKeys.add(zone.key);
    if (zone.currency !== currency) {
      throw invalid(`/zones/${i}/currency`, `all zones must use one currency (${currency})`);
    }
    zone.sections.forEach((sectionKey, j) => {
      const field = `/zones/${i}/sections/${j}`;
      if (!venueSections.has(sectionKey)) {
        throw invalid(field, `venue has no section "${sectionKey}"`);
      }
      const taken = zoneOf.get(sectionKey);
      if (taken !== undefined) {
        throw invalid(field, `section "${sectionKey}" is already in zone "${taken}"`);
      }
      zoneOf.set(sectionKey, zone.key);
    });
  });
  const uncovered = venue.sections.filter((section) => !zoneOf.has(section.key));
  if (uncovered.length > 0) {
    const keys = uncovered.map((section) => section.key).join(', ');
    throw invalid('/zones', `every section must be in a zone; not covered: ${keys}`);
  }
  return zoneOf;
}

/** Queue settings with defaults filled in (the schema fills them on HTTP input too). */
function queueSettings(input: EventInput['queue']): QueueSettings {
  return {
    enabled: input?.enabled ?? false,
    admitPerMinute: input?.admitPerMinute ?? 1000,
    maxActiveShoppers: input?.maxActiveShoppers ?? 1000,
    passSeconds: input?.passSeconds ?? 900,
    proofOfWork: input?.proofOfWork ?? false,
  };
}

/** Creates an event on a venue and materializes one ticket per seat and standing unit. */
export async function createEvent(db: Db, clock: Clock, input: EventInput): Promise<EventDetails> {
  const venue = await findVenue(db, input.venueId);
  if (venue === undefined) throw invalid('/venueId', `no venue ${input.venueId}`);
  const zoneOf = validateEvent(input, venue, clock.nowMs());
  const eventId = newId();
  const sectionsByKey = new Map(venue.sections.map((section) => [section.key, section]));
  const zoneCapacity = (sections: string[]): number =>
    sections.reduce((sum, key) => sum + sectionCapacity(sectionsByKey.get(key) as SectionInput), 0);
  const columns = layoutTickets(venue.sections, zoneOf);
  await db.tx(async (tx) => {
    await insertEventRow(tx, eventId, input, venue);
    for (const [position, zone] of input.zones.entries()) {
      await tx.query(
        `INSERT INTO zones (event_id, zone_key, name, price_cents, currency, position, sections,
                            capacity)
         VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8)`,
        [eventId, zone.key, zone.name, zone.priceCents, zone.currency, position, zone.sections,
          zoneCapacity(zone.sections)],
      );
    }
    await insertTickets(tx, eventId, columns);
  });
  await analyzeAfterLoad(db, ['tickets']);
  return await getEvent(db, clock, eventId);
}

async function insertEventRow(
  tx: Queryable, eventId: string, input: EventInput, venue: Venue,
): Promise<void> {
  const performers = input.performers ?? [];
  await tx.query(
    `INSERT INTO events (event_id, venue_id, title, description, performers, venue_name, city,
                         starts_at, on_sale_at, hold_seconds, hold_extension_seconds,
                         max_tickets_per_customer, queue, capacity, search)
     VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14,
       setweight(to_tsvector('english', $3), 'A') ||
       setweight(to_tsvector('english', array_to_string($5::text[], ' ')), 'A') ||
       setweight(to_tsvector('english', $6 || ' ' || $7), 'B') ||
       setweight(to_tsvector('english', $4), 'C'))`,
    [
      eventId, venue.venueId, input.title, input.description ?? '', performers, venue.name,
      venue.city, input.startsAt, input.onSaleAt, input.holdSeconds ?? 600,
      input.holdExtensionSeconds ?? 300, input.maxTicketsPerCustomer ?? 8,
      JSON.stringify(queueSettings(input.queue)), venue.capacity,
    ],
  );
}

/** Maps stored rows to records: one event row plus its zone rows (any order). */
export function toEventRecord(row: EventRow, zones: readonly ZoneRow[]): EventRecord {
  return {
    eventId: row.event_id,
    venueId: row.venue_id,
    title: row.title,
    description: row.description,
    performers: row.performers,
    venueName: row.venue_name,
    city: row.city,
    startsAtMs: row.starts_at.getTime(),
    onSaleAtMs: row.on_sale_at.getTime(),
    holdSeconds: row.hold_seconds,
    holdExtensionSeconds: row.hold_extension_seconds,
    maxTicketsPerCustomer: row.max_tickets_per_customer,
    queue: row.queue,
    capacity: row.capacity,
    cancelled: row.cancelled_at !== null,
    zones: zones
      .filter((zone) => zone.event_id === row.event_id)
      .map((zone) => ({
        key: zone.zone_key, name: zone.name, priceCents: zone.price_cents,
        currency: zone.currency, sections: zone.sections, capacity: zone.capacity,
      })),
  };
}

/** Loads event records with zones for the given ids, in the order of `ids`. */
export async function loadEvents(db: Queryable, ids: readonly string[]): Promise<EventRecord[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const events = await db.query<EventRow>(
    `SELECT ${eventColumns} FROM events e WHERE e.event_id = ANY($1::uuid[])`, [valid],
  );
  const zones = await db.query<ZoneRow>(
    `SELECT event_id, zone_key, name, price_cents, currency, sections, capacity
       FROM zones WHERE event_id = ANY($1::uuid[]) ORDER BY event_id, position`, [valid],
  );
  const byId = new Map(events.rows.map((row) => [row.event_id, toEventRecord(row, zones.rows)]));
  return valid.flatMap((id) => byId.get(id) ?? []);
}

/** Loads one event record or fails with not_found. */
export async function loadEvent(db: Queryable, eventId: string): Promise<EventRecord> {
  const [event] = await loadEvents(db, [eventId]);
  if (event === undefined) throw new DomainError('not_found', `no event ${eventId}`);
  return event;
}

/** The sale status a fan sees, from the clock and the live counts. */
export function eventStatus(event: EventRecord, zones: ZoneAvailability[], nowMs: number): EventStatus {
  if (event.cancelled) return 'cancelled';
  if (nowMs >= event.startsAtMs) return 'ended';
  if (nowMs < event.onSaleAtMs) return 'scheduled';
  const open = zones.reduce((sum, zone) => sum + zone.available + zone.held, 0);
  return open === 0 ? 'sold_out' : 'on_sale';
}

/** Zone figures: available = capacity − held − sold, from counts computed in the database. */
export function zoneAvailability(
  event: EventRecord, counts: ReadonlyMap<string, ZoneCounts> | undefined,
): ZoneAvailability[] {
  return event.zones.map((zone) => {
    const { held, sold } = counts?.get(zone.key) ?? { held: 0, sold: 0 };
    return { ...zone, available: zone.capacity - held - sold, held, sold };
  });
}

/** Summaries with live availability, in the order of `events`. */
export async function summarize(
  db: Queryable, clock: Clock, events: readonly EventRecord[],
): Promise<EventSummary[]> {
  const counts = await zoneCounts(db, events.map((event) => event.eventId));
  const nowMs = clock.nowMs();
  return events.map((event) => {
    const zones = zoneAvailability(event, counts.get(event.eventId));
    return {
      eventId: event.eventId, venueId: event.venueId, title: event.title,
      description: event.description, performers: event.performers,
      venueName: event.venueName, city: event.city,
      startsAt: new Date(event.startsAtMs).toISOString(),
      onSaleAt: new Date(event.onSaleAtMs).toISOString(),
      status: eventStatus(event, zones, nowMs), capacity: event.capacity, zones,
    };
  });
}

/** Event details with live per-zone availability. */
export async function getEvent(db: Queryable, clock: Clock, eventId: string): Promise<EventDetails> {
  const event = await loadEvent(db, eventId);
  const [summary] = await summarize(db, clock, [event]);
  if (summary === undefined) throw new Error('assertion failed: summary of a loaded event');
  return {
    ...summary,
    holdSeconds: event.holdSeconds,
    holdExtensionSeconds: event.holdExtensionSeconds,
    maxTicketsPerCustomer: event.maxTicketsPerCustomer,
    queue: event.queue,
  };
}
