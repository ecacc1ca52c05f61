/**
 * One event's seat states as a node keeps them in memory while it has live clients: one
 * byte per ticket (the status character itself, `a`, `h` or `s`, so a row of the compact
 * snapshot is a slice of the buffer), counts per section and zone kept as changes apply,
 * and the feed version they reflect.
 *
 * Built from PostgreSQL at version V (seat states and version from one snapshot), then
 * moved forward by feed rows V+1, V+2, ... A row's effect is absolute (this ticket is now
 * held), so the state after row N is the database's state after row N's commit.
 */
import type { SectionInput } from '../catalog/schemas.js';
import type { SeatStates } from '../inventory/seatmap.js';
import type { FeedRow } from '../outbox/feed.js';
import type {
  AvailabilityMessage, Counts, SeatChange, SeatsMessage, SnapshotMessage, ZoneCounts,
} from './messages.js';

const code = { a: 97, h: 104, s: 115 } as const;
const statusName: Record<number, SeatChange['status']> = {
  [code.a]: 'available', [code.h]: 'held', [code.s]: 'sold',
};
const effectCode: Record<string, number> = {
  available: code.a, held: code.h, sold: code.s,
};

interface SectionState extends Counts {
  key: string;
  kind: 'seated' | 'standing';
  zone: string;
  capacity: number;
  /** Index of the section's first ticket in the status buffer. */
  start: number;
  rows: { label: string; start: number; seats: number }[];
}

interface ZoneState extends Counts {
  key: string;
  capacity: number;
}

/** What applying a batch of rows did. */
export interface AppliedBatch {
  prevVersion: number;
  version: number;
  seats: SeatsMessage;
  availability: AvailabilityMessage | undefined;
  /** A row ended the feed (the event was cancelled). */
  ended: boolean;
}

function bump(counts: Counts, status: number, by: number): void {
  if (status === code.h) counts.held += by;
  else if (status === code.s) counts.sold += by;
  else counts.available += by;
}

function countsOf(counts: Counts): Counts {
  return { available: counts.available, held: counts.held, sold: counts.sold };
}

/** The in-memory seat states of one event. */
export class LiveEventState {
  version: number;
  ended: boolean;
  private readonly status: Uint8Array;
  private readonly sectionOf: Uint16Array;
  private readonly sections: SectionState[];
  private readonly zones: ZoneState[];

  constructor(states: SeatStates) {
    this.version = states.version;
    this.ended = states.cancelled;
    this.status = Buffer.from(states.states, 'latin1');
    this.sectionOf = new Uint16Array(this.status.length);
    const zoneOf = new Map<string, string>();
    for (const zone of states.zones) for (const key of zone.sections) zoneOf.set(key, zone.key);
    this.zones = states.zones.map((zone) => ({
      key: zone.key, capacity: 0, available: 0, held: 0, sold: 0,
    }));
    this.sections = [];
    let cursor = 0;
    states.layout.forEach((section, index) => {
      const built = this.layoutSection(section, zoneOf.get(section.key) ?? '', cursor);
      this.sectionOf.fill(index, cursor, cursor + built.capacity);
      for (let i = cursor; i < cursor + built.capacity; i++) {
        bump(built, this.status[i] ?? code.a, 1);
      }
      cursor += built.capacity;
      this.sections.push(built);
      const zone = this.zones.find((z) => z.key === built.zone);
      if (zone === undefined) return;
      zone.capacity += built.capacity;
      zone.available += built.available;
      zone.held += built.held;
      zone.sold += built.sold;
    });
  }

  /** Seats (and standing units) this state covers. */
  get size(): number {
    return this.status.length;
  }

  private layoutSection(section: SectionInput, zone: string, start: number): SectionState {
    const base = { key: section.key, kind: section.kind, zone, start, available: 0, held: 0,
      sold: 0 };
    if (section.kind === 'standing') return { ...base, capacity: section.capacity, rows: [] };
    let cursor = start;
    const rows = section.rows.map((row) => {
      const built = { label: row.label, start: cursor, seats: row.seats };
      cursor += row.seats;
      return built;
    });
    return { ...base, capacity: cursor - start, rows };
  }

  /**
   * Applies rows version+1, version+2, ... (rows at or below the version are skipped as
   * duplicates). Returns undefined when nothing new was in them; throws GapError when a
   * version is missing, leaving the state as it was before the first missing row.
   */
  apply(rows: readonly FeedRow[]): AppliedBatch | undefined {
    const prevVersion = this.version;
    const changes = new Map<string, number>();
    const touched = new Set<number>();
    let ended = false;
    for (const row of rows) {
      if (row.version <= this.version) continue;
      if (row.version !== this.version + 1) throw new GapError(this.version, row.version);
      this.version = row.version;
      if (row.effect === 'end') ended = true;
      const next = effectCode[row.effect];
      if (next === undefined) continue;
      for (const [ticketNo, seatId] of row.tickets) {
        const index = ticketNo - 1;
        if (index < 0 || index >= this.status.length) continue;
        this.set(index, next, touched);
        if (seatId !== null) changes.set(seatId, next);
      }
    }
    if (this.version === prevVersion) return undefined;
    if (ended) this.ended = true;
    const { version } = this;
    const seats: SeatsMessage = {
      version, prevVersion,
      changes: [...changes].map(([seatId, status]) => ({
        seatId, status: statusName[status] ?? 'available',
      })),
    };
    const availability = touched.size === 0 ? undefined : {
      version, prevVersion, zones: this.zoneCounts(),
      sections: [...touched].sort((a, b) => a - b).map((index) => {
        const section = this.sections[index] as SectionState;
        return { key: section.key, ...countsOf(section) };
      }),
    };
    return { prevVersion, version, seats, availability, ended };
  }

  private set(index: number, next: number, touched: Set<number>): void {
    const old = this.status[index] ?? code.a;
    if (old === next) return;
    this.status[index] = next;
    const sectionIndex = this.sectionOf[index] ?? 0;
    const section = this.sections[sectionIndex];
    if (section === undefined) return;
    touched.add(sectionIndex);
    bump(section, old, -1);
    bump(section, next, 1);
    const zone = this.zones.find((z) => z.key === section.zone);
    if (zone === undefined) return;
    bump(zone, old, -1);
    bump(zone, next, 1);
  }

  private zoneCounts(): ZoneCounts[] {
    return this.zones.map((zone) => ({ key: zone.key, capacity: zone.capacity,
      ...countsOf(zone) }));
  }

  /** The compact snapshot: a status string per seated row, counts everywhere. */
  snapshot(): SnapshotMessage {
    const buffer = Buffer.from(this.status.buffer, this.status.byteOffset, this.status.length);
    return {
      version: this.version,
      zones: this.zoneCounts(),
      sections: this.sections.map((section) => ({
        key: section.key, kind: section.kind, zone: section.zone, capacity: section.capacity,
        ...countsOf(section),
        ...(section.kind === 'seated' ? {
          rows: section.rows.map((row) => ({
            label: row.label,
            seats: buffer.toString('latin1', row.start, row.start + row.seats),
          })),
        } : {}),
      })),
    };
  }
}

/** A feed version went missing between this node's state and an incoming row. */
export class GapError extends Error {
  constructor(readonly have: number, readonly got: number) {
    super(`live feed gap: at version ${have}, next row is ${got}`);
    this.name = 'GapError';
  }
}
