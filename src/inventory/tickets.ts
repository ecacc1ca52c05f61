/**
 * Materializing an event's tickets: one row per seat and per standing unit, numbered in
 * layout order, written in bulk (one INSERT … SELECT FROM unnest per batch) so a
 * 50,000-ticket event takes seconds.
 */
import { limits } from '../config/limits.js';
import type { SectionInput } from '../catalog/schemas.js';
import type { Queryable } from '../storage/index.js';

/** Column-wise ticket rows, the shape unnest() wants. */
export interface TicketColumns {
  ticketNo: number[];
  zoneKey: string[];
  sectionKey: string[];
  sectionPosition: number[];
  rowLabel: (string | null)[];
  rowIndex: (number | null)[];
  seatNumber: (number | null)[];
  seatId: (string | null)[];
}

/** The seat id clients use: `<sectionKey>-<rowLabel>-<number>`. */
export function seatIdOf(sectionKey: string, rowLabel: string, seatNumber: number): string {
  return `${sectionKey}-${rowLabel}-${seatNumber}`;
}

/** Number of sellable units in a section. */
export function sectionCapacity(section: SectionInput): number {
  if (section.kind === 'standing') return section.capacity;
  return section.rows.reduce((sum, row) => sum + row.seats, 0);
}

/** Lays out every ticket of a venue; `zoneOf` maps each section key to its zone key. */
export function layoutTickets(
  sections: readonly SectionInput[],
  zoneOf: ReadonlyMap<string, string>,
): TicketColumns {
  const columns: TicketColumns = {
    ticketNo: [], zoneKey: [], sectionKey: [], sectionPosition: [],
    rowLabel: [], rowIndex: [], seatNumber: [], seatId: [],
  };
  let ticketNo = 0;
  const push = (
    section: string, position: number, zone: string,
    row: string | null, rowIndex: number | null, seat: number | null,
  ): void => {
    columns.ticketNo.push(++ticketNo);
    columns.zoneKey.push(zone);
    columns.sectionKey.push(section);
    columns.sectionPosition.push(position);
    columns.rowLabel.push(row);
    columns.rowIndex.push(rowIndex);
    columns.seatNumber.push(seat);
    columns.seatId.push(row === null || seat === null ? null : seatIdOf(section, row, seat));
  };
  sections.forEach((section, position) => {
    const zone = zoneOf.get(section.key);
    if (zone === undefined) throw new Error(`assertion failed: section ${section.key} has no zone`);
    if (section.kind === 'standing') {
      for (let unit = 0; unit < section.capacity; unit++) {
        push(section.key, position, zone, null, null, null);
      }
      return;
    }
    section.rows.forEach((row, rowIndex) => {
      for (let seat = 1; seat <= row.seats; seat++) {
        push(section.key, position, zone, row.label, rowIndex, seat);
      }
    });
  });
  return columns;
}

/** Inserts the tickets of one event in batches of `limits.ticketInsertBatch`. */
export async function insertTickets(
  tx: Queryable,
  eventId: string,
  columns: TicketColumns,
): Promise<number> {
  const total = columns.ticketNo.length;
  for (let start = 0; start < total; start += limits.ticketInsertBatch) {
    const end = Math.min(total, start + limits.ticketInsertBatch);
    await tx.query(
      `INSERT INTO tickets (event_id, ticket_no, zone_key, section_key, section_position,
                            row_label, row_index, seat_number, seat_id)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::int[],
                                $6::text[], $7::int[], $8::int[], $9::text[])`,
      [
        eventId,
        columns.ticketNo.slice(start, end),
        columns.zoneKey.slice(start, end),
        columns.sectionKey.slice(start, end),
        columns.sectionPosition.slice(start, end),
        columns.rowLabel.slice(start, end),
        columns.rowIndex.slice(start, end),
        columns.seatNumber.slice(start, end),
        columns.seatId.slice(start, end),
      ],
    );
  }
  return total;
}
