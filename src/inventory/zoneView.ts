/**
 * A node's in-memory view of a seated zone's free seats, so that best available picks
 * without reading the zone per request (an aggregate over every seat, then often a
 * re-plan, was the whole cost of best available under load).
 *
 * The view is a hint, never a decision: the hold batch decides on committed state under
 * locks and refuses a pick naming a taken seat (`contended`, with the taken tickets). A
 * stale view therefore costs a re-plan, never a double sale. To keep re-plans rare:
 *  - a pick reserves its seats in the view until its batch answers, so this node's own
 *    concurrent buyers never pick the same seats;
 *  - the batch's answers apply at once: granted seats are taken, refused ones are taken,
 *    the rest of a refused pick is free again;
 *  - the view is read again from committed state when it is older than
 *    `limits.zoneViewRefreshMs` (in the background; a request waits only for a view older
 *    than `limits.zoneViewMaxAgeMs`), which brings back other nodes' holds, releases,
 *    sales and expired holds (lazy expiry: an expired hold reads as free);
 *  - a view that cannot find N seats is read again before anyone hears "not enough": that
 *    answer only ever comes from committed state.
 *
 * Per node (one `ZoneViews` per app), bounded by zones (least recently used dropped) and
 * single-flight: concurrent first requests for a zone share one read.
 */
import { limits } from '../config/limits.js';
import type { Queryable } from '../storage/index.js';
import { ticketState } from './availability.js';
import { pickBestAvailable, pickFromBestRows, type PickRow } from './bestAvailable.js';

/** Test seam (AppContext.seams.zoneViews): how views age, and what the batch refused. */
export interface ZoneViewSeam {
  /**
   * Views are read again only after this long (default `limits.zoneViewRefreshMs`);
   * `Infinity` keeps a view as first read, so it goes stale as other nodes sell.
   */
  refreshMs?: number;
  /** Told of the seats a batch refused because they were taken: a stale view's cost. */
  refused?: (eventId: string, zone: string, ticketNos: readonly number[]) => void;
}

/** One seat row as the view keeps it. */
interface ViewRow {
  sectionPosition: number;
  rowIndex: number;
  seatCount: number;
  /** Ticket of seat number `firstSeat`; the row's tickets are consecutive in seat order. */
  firstTicketNo: number;
  firstSeat: number;
  /** Seats whose state is free. */
  free: number;
}

/** A seat's state in the view. */
const Seat = {
  Free: 0,
  /** Taken as far as this node knows (committed state, or this node's batch said so). */
  Taken: 1,
  /** Reserved by a pick of this node whose batch has not answered. */
  Reserved: 2,
  /** Reserved, and a read since then found it taken: taken if the pick is refused. */
  ReservedTaken: 3,
} as const;
type Seat = (typeof Seat)[keyof typeof Seat];

/** One row of a read: the row's layout and its free seat numbers. */
interface SeatRowRead {
  section_position: number;
  row_index: number;
  seat_count: number;
  first_ticket_no: number;
  first_seat: number;
  available: number[] | null;
}

/** Every seat row of a seated zone, with its free seats, on committed state. */
async function readZone(db: Queryable, eventId: string, zone: string): Promise<SeatRowRead[]> {
  const { rows } = await db.query<SeatRowRead>(
    `SELECT section_position, row_index, count(*)::int AS seat_count,
            min(ticket_no)::int AS first_ticket_no, min(seat_number)::int AS first_seat,
            array_agg(seat_number ORDER BY seat_number)
              FILTER (WHERE ${ticketState.available}) AS available
       FROM tickets
      WHERE event_id = $1 AND zone_key = $2 AND seat_id IS NOT NULL
      GROUP BY section_position, row_index
      ORDER BY section_position, row_index`,
    [eventId, zone],
  );
  return rows;
}

/** A pick the view reserved: its tickets, until `settle` is called with the batch's answer. */
export interface PlannedPick {
  ticketNos: number[];
  adjacent: boolean;
}

/** Best rows picked from first: at least this many, and room for twice `spread` blocks. */
const minRowsToScan = 4;

interface Read {
  seq: number;
  /** Free seats of the zone on committed state, when the read is done. */
  done: Promise<number>;
  /** Tickets this node learned were taken while the read ran (its snapshot may predate). */
  takenSince: number[];
}

/** The free-seat view of one seated zone (see the module comment). */
export class ZoneView {
  private readonly rows: ViewRow[] = [];
  /** Seat state by ticket number - `base`. */
  private state = new Uint8Array(0);
  /** Row index by ticket number - `base`, -1 for tickets of no row of this zone. */
  private rowOf = new Int32Array(0);
  private base = 0;
  private readStartedMs = -Infinity;
  /** When a batch last refused a pick of this view because another node took its seats. */
  private refusedMs = -Infinity;
  private reads = 0;
  private reading: Read | undefined;

  constructor(
    private readonly db: Queryable, readonly eventId: string, readonly zone: string,
    private readonly seam: ZoneViewSeam | undefined,
  ) {}

  /** Reads started so far: `fresh(seen)` wants a read started after `seen` reads. */
  get readsStarted(): number {
    return this.reads;
  }

  /**
   * True while other nodes are taking the seats this view offers: a batch refused one of
   * its picks within the last two refresh periods (the reads since have not caught up, or
   * the other nodes are still selling). This node's own buyers never collide (a pick
   * reserves its seats), so only then is it worth spreading picks over many blocks.
   */
  get contested(): boolean {
    const refreshMs = this.seam?.refreshMs ?? limits.zoneViewRefreshMs;
    return performance.now() - this.refusedMs < 2 * refreshMs;
  }

  /** Whether the view has a layout (a seated zone with seats). */
  get empty(): boolean {
    return this.rows.length === 0;
  }

  /**
   * Keeps the view fresh enough for a pick: too old for a pick, read again and wait; old,
   * read again in the background.
   */
  async ensureFresh(): Promise<void> {
    const refreshMs = this.seam?.refreshMs ?? limits.zoneViewRefreshMs;
    const ageMs = performance.now() - this.readStartedMs;
    if (ageMs < refreshMs) return;
    if (ageMs >= Math.max(refreshMs, limits.zoneViewMaxAgeMs) || this.rows.length === 0) {
      await this.fresh(this.reads);
      return;
    }
    // A failed background read is retried by the next pick: nothing waits on it.
    if (this.reading === undefined) this.fresh(this.reads).catch(() => undefined);
  }

  /**
   * A read of committed state started after `seen` reads (one shared by every caller that
   * wants one), applied to the view; answers the zone's free seats on committed state.
   */
  async fresh(seen: number): Promise<number> {
    for (;;) {
      const read = this.reading;
      if (read === undefined) return await this.startRead().done;
      if (read.seq > seen) return await read.done;
      await read.done.catch(() => undefined);
    }
  }

  private startRead(): Read {
    const startedMs = performance.now();
    const read: Read = { seq: ++this.reads, done: Promise.resolve(0), takenSince: [] };
    read.done = (async () => {
      try {
        const rows = await readZone(this.db, this.eventId, this.zone);
        this.install(rows, read.takenSince);
        this.readStartedMs = startedMs;
        return rows.reduce((sum, row) => sum + (row.available?.length ?? 0), 0);
      } finally {
        if (this.reading === read) this.reading = undefined;
      }
    })();
    this.reading = read;
    return read;
  }

  /** Replaces seat states with a read's, keeping reservations and what was learned since. */
  private install(read: readonly SeatRowRead[], takenSince: readonly number[]): void {
    if (this.rows.length === 0) this.layout(read);
    const seen = new Uint8Array(this.state.length);
    for (const row of read) {
      for (const seat of row.available ?? []) {
        const index = row.first_ticket_no + (seat - row.first_seat) - this.base;
        if (index >= 0 && index < seen.length) seen[index] = 1;
      }
    }
    for (const row of this.rows) row.free = 0;
    for (let index = 0; index < this.state.length; index++) {
      const rowIndex = this.rowOf[index] ?? -1;
      if (rowIndex < 0) continue;
      const was = this.state[index] as Seat;
      const free = seen[index] === 1;
      if (was === Seat.Reserved || was === Seat.ReservedTaken) {
        this.state[index] = free ? Seat.Reserved : Seat.ReservedTaken;
        continue;
      }
      this.state[index] = free ? Seat.Free : Seat.Taken;
      if (free) (this.rows[rowIndex] as ViewRow).free++;
    }
    for (const ticketNo of takenSince) this.markTaken(ticketNo);
  }

  /** The zone's rows and ticket range, from the first read (a layout never changes). */
  private layout(read: readonly SeatRowRead[]): void {
    if (read.length === 0) return;
    let low = Infinity;
    let high = -Infinity;
    for (const row of read) {
      low = Math.min(low, row.first_ticket_no);
      high = Math.max(high, row.first_ticket_no + row.seat_count - 1);
    }
    this.base = low;
    this.state = new Uint8Array(high - low + 1).fill(Seat.Taken);
    this.rowOf = new Int32Array(high - low + 1).fill(-1);
    for (const row of read) {
      const index = this.rows.length;
      this.rows.push({
        sectionPosition: row.section_position, rowIndex: row.row_index,
        seatCount: row.seat_count, firstTicketNo: row.first_ticket_no,
        firstSeat: row.first_seat, free: 0,
      });
      const start = row.first_ticket_no - low;
      this.rowOf.fill(index, start, start + row.seat_count);
    }
  }

  private index(ticketNo: number): number | undefined {
    const index = ticketNo - this.base;
    return index >= 0 && index < this.state.length && (this.rowOf[index] ?? -1) >= 0
      ? index : undefined;
  }

  private setState(index: number, next: Seat): void {
    const was = this.state[index] as Seat;
    if (was === next) return;
    const row = this.rows[this.rowOf[index] as number] as ViewRow;
    if (was === Seat.Free) row.free--;
    if (next === Seat.Free) row.free++;
    this.state[index] = next;
  }

  private markTaken(ticketNo: number): void {
    const index = this.index(ticketNo);
    if (index === undefined) return;
    const was = this.state[index] as Seat;
    // A reservation stays until its own pick is answered; it is taken if that is refused.
    if (was === Seat.Reserved) this.setState(index, Seat.ReservedTaken);
    else if (was === Seat.Free) this.setState(index, Seat.Taken);
  }

  private pickRow(row: ViewRow): PickRow {
    const available: number[] = [];
    const start = row.firstTicketNo - this.base;
    for (let i = 0; i < row.seatCount; i++) {
      if (this.state[start + i] === Seat.Free) available.push(row.firstSeat + i);
    }
    return { sectionPosition: row.sectionPosition, rowIndex: row.rowIndex,
      seatCount: row.seatCount, available };
  }

  /**
   * Picks `quantity` seats by best available (bestAvailable.ts, choosing among `spread`
   * best blocks) from the view's free seats and, with `reserve`, reserves them until
   * `settle`. Undefined when the view has fewer than `quantity` free seats: only a fresh
   * read may then say the zone is short.
   */
  plan(quantity: number, spread: number, reserve = true): PlannedPick | undefined {
    // First the best rows that could hold N adjacent seats, as bestAvailable.ts allows:
    // enough of them for the spread's blocks (each free seat starts at most one block;
    // twice as many, as some blocks would strand a seat), twice as many rows again while
    // they cannot decide, and the whole zone only for a split. The rows are scanned only as
    // far as needed: at the start of a sale the first few rows decide.
    const fuller: ViewRow[] = [];
    let scanned = 0;
    /** Finds fuller rows until there are `want`; false when the zone has fewer. */
    const reach = (want: number): boolean => {
      while (fuller.length < want && scanned < this.rows.length) {
        const row = this.rows[scanned++] as ViewRow;
        if (row.free >= quantity) fuller.push(row);
      }
      return fuller.length >= want;
    };
    let take = 0;
    for (let room = 0; reach(take + 1); take++) {
      if (take >= minRowsToScan && room >= 2 * spread) break;
      room += (fuller[take] as ViewRow).free - quantity + 1;
    }
    let from: ViewRow[] = [];
    let pick: ReturnType<typeof pickBestAvailable>;
    for (;; take *= 2) {
      // Complete: no fuller row beyond the first `take`.
      const complete = !reach(take + 1);
      from = fuller.slice(0, take);
      pick = pickFromBestRows(from.map((row) => this.pickRow(row)), quantity, complete,
        { spread });
      if (pick !== undefined || complete) break;
    }
    if (pick === undefined) {
      from = this.rows.filter((row) => row.free > 0);
      pick = pickBestAvailable(from.map((row) => this.pickRow(row)), quantity, { spread });
    }
    if (pick === undefined) return undefined;
    const rows = from;
    const ticketNos = pick.seats.map((seat) => {
      const row = rows.find((candidate) => candidate.sectionPosition === seat.sectionPosition
        && candidate.rowIndex === seat.rowIndex) as ViewRow;
      return row.firstTicketNo + (seat.seatNumber - row.firstSeat);
    });
    if (reserve) {
      for (const ticketNo of ticketNos) this.setState(ticketNo - this.base, Seat.Reserved);
    }
    return { ticketNos, adjacent: pick.adjacent };
  }

  /**
   * The batch's answer to a planned pick: `granted` (all its seats are taken now) or
   * refused with the seats it found `taken` (the others are free again as far as this
   * pick knows), or `undefined` when the pick was never decided (its seats are free again).
   */
  settle(pick: PlannedPick, answer: { granted: boolean; taken?: readonly number[] }): void {
    const taken = new Set(answer.granted ? pick.ticketNos : answer.taken ?? []);
    if (answer.taken !== undefined && answer.taken.length > 0) {
      this.refusedMs = performance.now();
      this.seam?.refused?.(this.eventId, this.zone, answer.taken);
    }
    for (const ticketNo of pick.ticketNos) {
      const index = this.index(ticketNo);
      if (index === undefined) continue;
      const was = this.state[index] as Seat;
      if (taken.has(ticketNo) || was === Seat.ReservedTaken || was === Seat.Taken) {
        this.setState(index, Seat.Taken);
        this.reading?.takenSince.push(ticketNo);
      } else {
        this.setState(index, Seat.Free);
      }
    }
  }

  /** Seats this node's batch granted outside best available (named seats): taken now. */
  taken(ticketNos: readonly number[]): void {
    for (const ticketNo of ticketNos) {
      this.markTaken(ticketNo);
      this.reading?.takenSince.push(ticketNo);
    }
  }

  /** Free seats in the view (neither taken nor reserved); for tests. */
  get freeSeats(): number {
    return this.rows.reduce((sum, row) => sum + row.free, 0);
  }
}

/** How many zones' views one node keeps (a 50,000-seat zone's view is ~250 KiB). */
const maxZones = 64;

/** One node's zone views (see the module comment). */
export class ZoneViews {
  private readonly views = new Map<string, ZoneView>();
  /** The most recently used view: the last of `views`, when it is there. */
  private newest: ZoneView | undefined;

  constructor(private readonly db: Queryable, private readonly seam?: ZoneViewSeam) {}

  /**
   * The view of a seated zone, read if it is new or too old (single-flight). Only call it
   * for a seated zone of an event known to exist.
   */
  async view(eventId: string, zone: string): Promise<ZoneView> {
    const key = `${eventId}/${zone}`;
    let view = this.views.get(key);
    if (view === undefined) {
      view = new ZoneView(this.db, eventId, zone, this.seam);
      this.views.set(key, view);
      while (this.views.size > maxZones) {
        const oldest = this.views.keys().next();
        if (oldest.done === true) break;
        this.views.delete(oldest.value);
      }
    } else if (view !== this.newest) {
      // Most recently used last: re-insert, unless it is already (a busy zone's every pick).
      this.views.delete(key);
      this.views.set(key, view);
    }
    this.newest = view;
    await view.ensureFresh();
    return view;
  }

  /** Tickets of `zone` this node's batch granted by name: taken in its view, if it has one. */
  granted(eventId: string, zone: string, ticketNos: readonly number[]): void {
    this.views.get(`${eventId}/${zone}`)?.taken(ticketNos);
  }
}
