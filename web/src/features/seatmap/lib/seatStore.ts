/**
 * The live state of one event's seat map: a status per seat, counts per section and zone,
 * and the feed version they reflect. The live hook applies versioned messages here;
 * components and the canvas read it (never the socket). Seats changed since the canvas last
 * painted are queued so a burst of updates repaints only those seats.
 */
import {
  AVAILABLE, HELD, SOLD, statusCodes, type Scene, type SeatMapInput, type StatusCode,
} from './scene';

/** Counts of one section or zone. */
export interface Counts {
  capacity: number;
  available: number;
  held: number;
  sold: number;
}

export interface SnapshotMessage {
  version: number;
  zones: ({ key: string } & Counts)[];
  sections: ({ key: string; rows?: { label: string; seats: string }[] } & Counts)[];
}

export interface SeatsMessage {
  version: number;
  prevVersion: number;
  changes: { seatId: string; status: string }[];
}

export interface AvailabilityMessage {
  version: number;
  prevVersion: number;
  zones: ({ key: string } & Counts)[];
  sections: ({ key: string } & Omit<Counts, 'capacity'>)[];
}

/** What applying a message did. */
export type ApplyResult = 'applied' | 'duplicate' | 'gap';

const charCodes: Record<string, StatusCode> = { a: AVAILABLE, h: HELD, s: SOLD };

export class SeatStore {
  readonly scene: Scene;
  readonly status: Uint8Array;
  version: number;
  readonly sectionCounts: Counts[];
  readonly zoneCounts: Counts[];
  /** Set when the event's feed ended (e.g. the event was cancelled). */
  ended: string | undefined;
  /** Bumped on every change; React subscribes to it. */
  revision = 0;
  private dirty: number[] = [];
  private allDirty = true;
  private readonly listeners = new Set<() => void>();
  private readonly sectionIndex: Map<string, number>;
  private readonly zoneIndex: Map<string, number>;

  constructor(scene: Scene, seatmap: SeatMapInput) {
    this.scene = scene;
    this.status = new Uint8Array(scene.seatCount);
    this.version = seatmap.version;
    this.ended = undefined;
    this.sectionIndex = new Map(scene.sections.map((s, i) => [s.key, i]));
    this.zoneIndex = new Map(scene.zones.map((z, i) => [z.key, i]));
    this.sectionCounts = scene.sections.map((s) => ({
      capacity: s.capacity, available: 0, held: 0, sold: 0,
    }));
    this.zoneCounts = scene.zones.map(() => ({ capacity: 0, available: 0, held: 0, sold: 0 }));
    seatmap.sections.forEach((section, s) => {
      const counts = this.sectionCounts[s] as Counts;
      counts.available = section.available;
      counts.sold = section.capacity - section.available;
      let i = scene.sections[s]?.firstSeat ?? 0;
      for (const row of section.rows) {
        for (const seat of row.seats) {
          this.status[i] = statusCodes[seat.status] ?? SOLD;
          i += 1;
        }
      }
      if (section.kind === 'seated') this.recountSection(s);
    });
    this.recountZones();
  }

  /** Listens for changes; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getRevision = (): number => this.revision;

  /** Seats changed since the last call (all of them: `'all'`), for the painter. */
  drainDirty(): number[] | 'all' {
    if (this.allDirty) {
      this.allDirty = false;
      this.dirty = [];
      return 'all';
    }
    const out = this.dirty;
    this.dirty = [];
    return out;
  }

  statusOf(seatId: string): StatusCode | undefined {
    const index = this.scene.indexById.get(seatId);
    return index === undefined ? undefined : (this.status[index] as StatusCode);
  }

  /** Replaces everything with a snapshot (on connect and after a gap). */
  applySnapshot(message: SnapshotMessage): void {
    for (const section of message.sections) {
      const s = this.sectionIndex.get(section.key);
      if (s === undefined) continue;
      this.setCounts(s, section);
      const sceneSection = this.scene.sections[s];
      if (section.rows === undefined || sceneSection === undefined) continue;
      section.rows.forEach((row, r) => {
        const sceneRow = sceneSection.rows[r];
        if (sceneRow === undefined) return;
        for (let k = 0; k < Math.min(row.seats.length, sceneRow.count); k += 1) {
          this.status[sceneRow.firstSeat + k] = charCodes[row.seats[k] as string] ?? SOLD;
        }
      });
    }
    this.setZones(message.zones);
    this.version = message.version;
    this.allDirty = true;
    this.changed();
  }

  /** Applies a seats step; a step that does not start at our version is a gap. */
  applySeats(message: SeatsMessage): ApplyResult {
    if (message.version <= this.version) return 'duplicate';
    if (message.prevVersion > this.version) return 'gap';
    for (const change of message.changes) {
      const index = this.scene.indexById.get(change.seatId);
      const next = statusCodes[change.status];
      if (index === undefined || next === undefined || this.status[index] === next) continue;
      this.status[index] = next;
      if (!this.allDirty) this.dirty.push(index);
    }
    this.version = message.version;
    this.changed();
    return 'applied';
  }

  /** Applies absolute counts (they arrive with the seats step of the same version). */
  applyAvailability(message: AvailabilityMessage): ApplyResult {
    if (message.version < this.version) return 'duplicate';
    if (message.prevVersion > this.version) return 'gap';
    for (const section of message.sections) {
      const s = this.sectionIndex.get(section.key);
      if (s !== undefined) this.setCounts(s, section);
    }
    this.setZones(message.zones);
    this.version = message.version;
    this.changed();
    return 'applied';
  }

  /** The feed is over (the event was cancelled). */
  end(reason: string): void {
    this.ended = reason;
    this.changed();
  }

  /** Marks seats as taken locally (a refused hold named them) until the feed says more. */
  markTaken(seatIds: readonly string[]): void {
    for (const id of seatIds) {
      const index = this.scene.indexById.get(id);
      if (index === undefined || this.status[index] !== AVAILABLE) continue;
      this.status[index] = HELD;
      if (!this.allDirty) this.dirty.push(index);
    }
    this.changed();
  }

  private setCounts(s: number, counts: Omit<Counts, 'capacity'>): void {
    const target = this.sectionCounts[s];
    if (target === undefined) return;
    target.available = counts.available;
    target.held = counts.held;
    target.sold = counts.sold;
  }

  private setZones(zones: readonly ({ key: string } & Counts)[]): void {
    for (const zone of zones) {
      const z = this.zoneIndex.get(zone.key);
      const target = z === undefined ? undefined : this.zoneCounts[z];
      if (target === undefined) continue;
      target.capacity = zone.capacity;
      target.available = zone.available;
      target.held = zone.held;
      target.sold = zone.sold;
    }
  }

  private recountSection(s: number): void {
    const section = this.scene.sections[s];
    const counts = this.sectionCounts[s];
    if (section === undefined || counts === undefined) return;
    counts.available = 0; counts.held = 0; counts.sold = 0;
    const end = section.firstSeat + section.rows.reduce((n, r) => n + r.count, 0);
    for (let i = section.firstSeat; i < end; i += 1) {
      const status = this.status[i];
      if (status === AVAILABLE) counts.available += 1;
      else if (status === HELD) counts.held += 1;
      else counts.sold += 1;
    }
  }

  private recountZones(): void {
    for (const counts of this.zoneCounts) {
      counts.capacity = 0; counts.available = 0; counts.held = 0; counts.sold = 0;
    }
    this.scene.sections.forEach((section, s) => {
      const zone = this.zoneCounts[section.zone];
      const counts = this.sectionCounts[s];
      if (zone === undefined || counts === undefined) return;
      zone.capacity += counts.capacity;
      zone.available += counts.available;
      zone.held += counts.held;
      zone.sold += counts.sold;
    });
  }

  private changed(): void {
    this.revision += 1;
    for (const listener of [...this.listeners]) listener();
  }
}
