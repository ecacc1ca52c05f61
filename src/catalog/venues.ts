/** Venues: named places with seated sections (rows of seats) and standing sections. */
import { limits } from '../config/limits.js';
import { DomainError, invalid } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import { sectionCapacity } from '../inventory/tickets.js';
import type { Queryable } from '../storage/index.js';
import type { SectionInput, Venue, VenueInput } from './schemas.js';

/** Checks what the schema cannot: unique keys and the total size. Throws naming the field. */
export function validateVenue(input: VenueInput): number {
  const sectionKeys = new Set<string>();
  let capacity = 0;
  input.sections.forEach((section, i) => {
    if (sectionKeys.has(section.key)) {
      throw invalid(`/sections/${i}/key`, `duplicate section key "${section.key}"`);
    }
    sectionKeys.add(section.key);
    if (section.kind === 'seated') {
      const labels = new Set<string>();
      section.rows.forEach((row, j) => {
        if (labels.has(row.label)) {
          throw invalid(`/sections/${i}/rows/${j}/label`, `duplicate row label "${row.label}"`);
        }
        labels.add(row.label);
      });
    }
    capacity += sectionCapacity(section);
  });
  if (capacity > limits.ticketsPerVenue) {
    throw invalid('/sections', `venue capacity ${capacity} exceeds ${limits.ticketsPerVenue}`);
  }
  return capacity;
}

/** Creates a venue after validating its layout. */
export async function createVenue(db: Queryable, input: VenueInput): Promise<Venue> {
  const capacity = validateVenue(input);
  const venueId = newId();
  await db.query(
    `INSERT INTO venues (venue_id, name, city, layout, capacity) VALUES ($1, $2, $3, $4::jsonb, $5)`,
    [venueId, input.name, input.city, JSON.stringify(input.sections), capacity],
  );
  return { venueId, name: input.name, city: input.city, capacity, sections: input.sections };
}

/** Reads a venue, or undefined when there is none with that id. */
export async function findVenue(db: Queryable, venueId: string): Promise<Venue | undefined> {
  if (!isUuid(venueId)) return undefined;
  const { rows } = await db.query<{
    venue_id: string; name: string; city: string; capacity: number; layout: SectionInput[];
  }>('SELECT venue_id, name, city, capacity, layout FROM venues WHERE venue_id = $1', [venueId]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    venueId: row.venue_id, name: row.name, city: row.city,
    capacity: row.capacity, sections: row.layout,
  };
}

/** Reads a venue or fails with not_found. */
export async function getVenue(db: Queryable, venueId: string): Promise<Venue> {
  const venue = await findVenue(db, venueId);
  if (venue === undefined) throw new DomainError('not_found', `no venue ${venueId}`);
  return venue;
}

/** A venue without its layout, for pickers. */
export interface VenueSummary {
  venueId: string;
  name: string;
  city: string;
  capacity: number;
  createdAt: string;
}

/** The newest venues first, at most `limit`, for the organizer's event form. */
export async function listVenues(db: Queryable, limit: number): Promise<VenueSummary[]> {
  const { rows } = await db.query<{ venue_id: string; name: string; city: string;
    capacity: number; created_at: Date }>(
    `SELECT venue_id, name, city, capacity, created_at FROM venues
      ORDER BY created_at DESC, venue_id LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
    venueId: row.venue_id, name: row.name, city: row.city, capacity: row.capacity,
    createdAt: row.created_at.toISOString(),
  }));
}
