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
 *  - the batch's answers apply at once: granted seats are taken, refused ones are taken
 *    (unless the feed freed them since they were reserved), the rest of a refused pick is
 *    free again;
 *  - other nodes' holds, releases, sales and expired holds arrive on the event's live feed
 *    (outbox/feed.ts: committed ticket changes, versions without holes), which the node
 *    follows while it keeps a view of the event: held and sold seats are taken, available
 *    ones free (this node's reservations stay until their picks are answered, and its
 *    grants ignore `available` rows until their own row, see `ownGrants`). A read
 *    says which feed version it reflects (read in the same statement), so rows at or below
 *    it are skipped and later ones applied on top;
 *  - the zone is read in full (every seat row: its layout and its free seats) only at first
 *    use. Every later read takes only the zone's unsold tickets (`readUnsoldSql`: 080's
 *    zone_free_seats over tickets_unsold_idx): the layout never changes, a seat missing
 *    from the answer is taken, and a sold seat comes back only by a cancellation, which
 *    clears its order_id and so puts it in that index again. Near the end of a sale that is
 *    a few hundred of a 20,000-seat zone's rows where the full read visits them all
 *    (docs/benchmarks-journal.md, "Zone views re-read only the unsold seats"). The view is
 *    read again on a gap in the feed's versions (a lost batch: at once, in the background,
 *    unless a read is running, whose catch-up then decides), and every
 *    `limits.zoneViewFedRefreshMs` in the background as a safety net (a subscription that
 *    lost batches and heard none since shows no gap). Without a feed
 *    (a caller with no coordinator, a failed subscribe, a gap until its read lands) the
 *    view is read again when older than `limits.zoneViewRefreshMs` (in the background; a
 *    request waits only for a view older than `limits.zoneViewMaxAgeMs`, and a view that
 *    lost its feed ages from the gap); a failed or slow subscribe is tried again on a
 *    later use of the view;
 *  - lazy expiry: an expired hold reads as free on committed state at once, while the
 *    feed's `available` for it comes from the expiry sweeper a sweep later (SPEC 7): in
 *    between the view holds the seats taken, which costs other seats or a read, never a
 *    wrong answer, because
 *  - a view that cannot find N seats is read again before anyone hears "not enough": that
 *    answer only ever comes from committed state, read by a read that started after the
 *    request looked at the view. Reads of a zone start at least `limits.zoneViewReadGapMs`
 *    apart (the first, and one after a quiet spell, at once), so at the end of a sale a
 *    stream of fans asking for more seats than are left shares one read per period instead
 *    of keeping a connection reading back to back. Remembering "short of N" until the feed
 *    frees a seat would save those reads too, but is not safe: an expired hold's seats are
 *    free with no feed row until the sweep, and the feed trails commits, so a fan could
 *    hear "not enough" about seats a release had already returned.
 *
 * Per node (one `ZoneViews` per app), bounded by zones (least recently used dropped) and
 * single-flight: concurrent first requests for a zone share one read.
 */
import { limits } from '../config/limits.js';
import type { Unsubscribe } from '../coord/index.js';
import type { FeedBatch, FeedFollower, FeedRow } from '../outbox/feed.js';
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
  /** The views follow no live feed (a control: only reads bring other nodes' changes). */
  unfed?: boolean;
  /** Told of each read of a zone as it starts, and which: what the feed saves. */
  read?: (eventId: string, zone: string, kind: ZoneReadKind) => void;
  /**
   * Reads of one zone start at least this far apart (default `limits.zoneViewReadGapMs`);
   * 0 starts every read at once (a control: one read per refusal in a stream of them).
   */
  readGapMs?: number;
  /** Every read in full, as before unsold re-reads (a benchmark's control). */
  rereadInFull?: boolean;
}

/** A read of the zone: `full` (every seat row, the layout) or `unsold` (the later ones). */
export type ZoneReadKind = 'full' | 'unsold';

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
  /**
   * Reserved, and the feed freed it since: free if the pick is refused, even as taken (the
   * release is newer than the batch's look, or a later hold's own row will follow).
   */
  ReservedFreed: 4,
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
  /** The event's live-feed version, read in the same statement (the same on every row). */
  feed_version: string | number;
}

/**
 * Every seat row of a seated zone (`$1` event, `$2` zone), with its free seats, on
 * committed state, and the feed version they reflect (one snapshot: every feed row at or
 * below it is already in them). Exported for the benchmarks (bench/zoneViewFeed.ts,
 * bench/zoneViewReread.ts) and the tests that compare reads.
 */
export const readZoneSql =
  `SELECT section_position, row_index, count(*)::int AS seat_count,
          min(ticket_no)::int AS first_ticket_no, min(seat_number)::int AS first_seat,
          array_agg(seat_number ORDER BY seat_number)
            FILTER (WHERE ${ticketState.available}) AS available,
          coalesce((SELECT f.version FROM event_feed f WHERE f.event_id = $1), 0)::bigint
            AS feed_version
     FROM tickets
    WHERE event_id = $1 AND zone_key = $2 AND seat_id IS NOT NULL
    GROUP BY section_position, row_index
    ORDER BY section_position, row_index`;

/**
 * The free seats of a seated zone (`$1` event, `$2` zone) as ticket numbers, on committed
 * state, with the feed version they reflect (one statement, one snapshot, as readZoneSql):
 * every read after the first, which knew the layout. Only an unsold ticket can be free, and
 * zone_free_seats (migration 080) reads tickets_unsold_idx, which holds only those, off
 * sequential scans (a plain statement was planned as a scan of every ticket while the
 * statistics said most were unsold). One row always, so a zone with nothing free still says
 * its version. Exported for bench/zoneViewReread.ts and the tests.
 */
export const readUnsoldSql = 'SELECT feed_version, free FROM zone_free_seats($1, $2)';

/** The one row of an unsold read. */
interface UnsoldRead {
  feed_version: string | number;
  free: number[] | null;
}

/** What a read found: the zone's free tickets, and the feed version they reflect. */
interface FreeSeats {
  ticketNos: number[];
  feedVersion: number;
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
  /** Feed rows that arrived while the read ran (its snapshot may predate or follow them). */
  feedRows: FeedRow[];
  /** More rows arrived than kept: the read cannot be brought up to the feed. */
  feedLost: boolean;
  /** The view followed the feed when the read started: rows after its version will come. */
  fed: boolean;
  /**
   * Its statement was sent. Until then (waiting out the gap) anyone may join it: it starts
   * after they looked.
   */
  sent: boolean;
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
  /** When the last read's statement was sent: the next waits out `readGapMs` from it. */
  private lastReadMs = -Infinity;
  /** When a fed view found a gap: it was current until then, so it ages from there. */
  private lostMs = -Infinity;
  /** When a batch last refused a pick of this view because another node took its seats. */
  private refusedMs = -Infinity;
  private reads = 0;
  private reading: Read | undefined;
  /** Whether the node follows the event's feed for this view (ZoneViews decides). */
  private following = false;
  /** The feed version the view reflects; undefined while it has no unbroken feed. */
  private feedVersion: number | undefined;
  /**
   * Tickets this node's batch granted whose own `held` row the feed has not brought yet,
   * with when granted: an `available` row for one of them is older than the grant
   * (versions follow commits), so it must not free the seat. A read does not end the
   * guard: its snapshot may hold commits the relay has not stamped yet, so rows above its
   * version may still be older than the grant. An entry ends at the first `held` or `sold`
   * row for the ticket (at any version, applied or not) or after `limits.zoneViewGrantMs`.
   */
  private readonly ownGrants = new Map<number, { count: number; atMs: number }>();

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

  /** The feed version the view reflects, undefined while it has no unbroken feed. */
  get version(): number | undefined {
    return this.feedVersion;
  }

  /** Whether the view follows the event's feed (its subscription is up). */
  get followed(): boolean {
    return this.following;
  }

  /** Whether the view has a layout (a seated zone with seats). */
  get empty(): boolean {
    return this.rows.length === 0;
  }

  /**
   * Keeps the view fresh enough for a pick: too old for a pick, read again and wait (for
   * the read already running, if one is); old, read again in the background. A view that
   * lost its feed ages from the gap: it was current until then.
   */
  async ensureFresh(): Promise<void> {
    const fed = this.feedVersion !== undefined;
    const refreshMs = this.seam?.refreshMs
      ?? (fed ? limits.zoneViewFedRefreshMs : limits.zoneViewRefreshMs);
    const ageMs = performance.now() - Math.max(this.readStartedMs, this.lostMs);
    if (ageMs < refreshMs) return;
    // A fed view is current however old its read: the periodic read runs in the background.
    const tooOld = !fed && ageMs >= Math.max(refreshMs, limits.zoneViewMaxAgeMs);
    if (tooOld || this.rows.length === 0) {
      await this.fresh(this.reading === undefined ? this.reads : this.reads - 1);
      return;
    }
    // A failed background read is retried by the next pick: nothing waits on it.
    if (this.reading === undefined) this.fresh(this.reads).catch(() => undefined);
  }

  /**
   * A read of committed state started after `seen` reads, or one still waiting out its gap
   * (one shared by every caller that wants one), applied to the view; answers the zone's
   * free seats on committed state.
   */
  async fresh(seen: number): Promise<number> {
    for (;;) {
      const read = this.reading;
      if (read === undefined) return await this.startRead().done;
      if (read.seq > seen || !read.sent) return await read.done;
      await read.done.catch(() => undefined);
    }
  }

  private startRead(): Read {
    const read: Read = { seq: ++this.reads, done: Promise.resolve(0), takenSince: [],
      feedRows: [], feedLost: false, fed: this.following, sent: false };
    const gapMs = this.seam?.readGapMs ?? limits.zoneViewReadGapMs;
    const waitMs = this.lastReadMs + gapMs - performance.now();
    read.done = (async () => {
      try {
        // Callers joining while it waits are answered by it: it starts after they looked.
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        read.sent = true;
        // What this node learned while the read waited out its gap is committed, so in the
        // snapshot: kept past it, a seat another node freed meanwhile (its feed row at or
        // below the read's version, so skipped) would stay taken until the next read.
        read.takenSince.length = 0;
        const startedMs = performance.now();
        this.lastReadMs = startedMs;
        const found = this.rows.length === 0 || this.seam?.rereadInFull === true
          ? await this.readFull() : await this.readUnsold();
        this.install(found.ticketNos, read.takenSince);
        this.readStartedMs = startedMs;
        this.catchUp(read, found.feedVersion);
        return found.ticketNos.length;
      } finally {
        if (this.reading === read) this.reading = undefined;
      }
    })();
    this.reading = read;
    return read;
  }

  /** Every seat row of the zone: the layout at first use, and the free seats. */
  private async readFull(): Promise<FreeSeats> {
    this.seam?.read?.(this.eventId, this.zone, 'full');
    const { rows } = await this.db.query<SeatRowRead>(readZoneSql, [this.eventId, this.zone]);
    if (this.rows.length === 0) this.layout(rows);
    const ticketNos: number[] = [];
    for (const row of rows) {
      for (const seat of row.available ?? []) {
        ticketNos.push(row.first_ticket_no + (seat - row.first_seat));
      }
    }
    return { ticketNos, feedVersion: Number(rows[0]?.feed_version ?? 0) };
  }

  /** Only the zone's unsold tickets: what can be free (see `readUnsoldSql`). */
  private async readUnsold(): Promise<FreeSeats> {
    this.seam?.read?.(this.eventId, this.zone, 'unsold');
    const { rows } = await this.db.query<UnsoldRead>(readUnsoldSql, [this.eventId, this.zone]);
    const row = rows[0];
    return { ticketNos: row?.free ?? [], feedVersion: Number(row?.feed_version ?? 0) };
  }

  /** Replaces seat states with a read's, keeping reservations and what was learned since. */
  private install(free: readonly number[], takenSince: readonly number[]): void {
    const seen = new Uint8Array(this.state.length);
    for (const ticketNo of free) {
      const index = ticketNo - this.base;
      if (index >= 0 && index < seen.length) seen[index] = 1;
    }
    for (const row of this.rows) row.free = 0;
    for (let index = 0; index < this.state.length; index++) {
      const rowIndex = this.rowOf[index] ?? -1;
      if (rowIndex < 0) continue;
      const was = this.state[index] as Seat;
      const free = seen[index] === 1;
      if (was === Seat.Reserved || was === Seat.ReservedTaken || was === Seat.ReservedFreed) {
        this.state[index] = free ? Seat.Reserved : Seat.ReservedTaken;
        continue;
      }
      this.state[index] = free ? Seat.Free : Seat.Taken;
      if (free) (this.rows[rowIndex] as ViewRow).free++;
    }
    for (const ticketNo of takenSince) this.markTaken(ticketNo);
  }

  /**
   * Brings a fed view from its read's feed version up to the feed: the rows that arrived
   * while it ran, above that version (this node's grants stay guarded: see `ownGrants`).
   */
  private catchUp(read: Read, feedVersion: number): void {
    // A read started before the subscription was up may miss rows published before it.
    if (!this.following || !read.fed || read.feedLost || this.rows.length === 0) {
      // Unfed until the next read (by the unfed period): no immediate re-read, no loop.
      this.feedVersion = undefined;
      return;
    }
    this.feedVersion = feedVersion;
    if (!this.applyRows(read.feedRows)) this.lostFeed();
  }

  /** Starts following the event's feed: the next read sets the version rows apply from. */
  follow(): void {
    this.following = true;
  }

  /** Stops following (the node dropped the view or the subscription): unfed from now on. */
  unfollow(): void {
    this.following = false;
    this.feedVersion = undefined;
    this.ownGrants.clear();
  }

  /**
   * Rows of the event's feed, as they arrive. Applied in version order on top of the
   * view's version; a missing version makes the view read the zone again.
   */
  applyFeed(rows: readonly FeedRow[]): void {
    if (!this.following) return;
    // A grant's own row ends its guard whether or not it applies (a read may already have
    // it, or it may come before the batch's answer does).
    for (const row of rows) {
      if (row.effect !== 'held' && row.effect !== 'sold') continue;
      for (const [ticketNo] of row.tickets) this.dropGrant(ticketNo);
    }
    const read = this.reading;
    if (read !== undefined && !read.feedLost) {
      if (read.feedRows.length + rows.length > limits.zoneViewRowsDuringRead) {
        read.feedLost = true;
      } else read.feedRows.push(...rows);
    }
    if (this.feedVersion === undefined) return;
    if (this.applyRows(rows)) return;
    // A read that follows the feed is running: its catch-up applies these rows or finds
    // the gap itself, so no second read is queued behind it.
    if (read !== undefined && read.fed && !read.feedLost) {
      this.feedVersion = undefined;
      this.lostMs = performance.now();
    } else this.lostFeed();
  }

  /** A batch went missing: unfed, and read again in the background at once. */
  private lostFeed(): void {
    this.feedVersion = undefined;
    this.lostMs = performance.now();
    // A failed read is retried by the next pick (the view is unfed, so aged by then).
    this.fresh(this.reads).catch(() => undefined);
  }

  /** Applies rows above the version, strictly one after another; false at a gap. */
  private applyRows(rows: readonly FeedRow[]): boolean {
    for (const row of rows) {
      const version = this.feedVersion ?? 0;
      if (row.version <= version) continue;
      if (row.version !== version + 1) return false;
      this.feedVersion = row.version;
      if (row.effect === 'held' || row.effect === 'sold') {
        for (const [ticketNo] of row.tickets) this.feedTaken(ticketNo);
      } else if (row.effect === 'available') {
        for (const [ticketNo] of row.tickets) this.feedFree(ticketNo);
      }
    }
    return true;
  }

  private feedTaken(ticketNo: number): void {
    this.markTaken(ticketNo);
  }

  /** One `held` or `sold` row for the ticket came: one grant of it no longer needs a guard. */
  private dropGrant(ticketNo: number): void {
    const grant = this.ownGrants.get(ticketNo);
    if (grant === undefined) return;
    if (grant.count <= 1) this.ownGrants.delete(ticketNo);
    else grant.count -= 1;
  }

  /** Whether an `available` row for the ticket may be older than this node's grant of it. */
  private guarded(ticketNo: number): boolean {
    const grant = this.ownGrants.get(ticketNo);
    if (grant === undefined) return false;
    // Bounded: a grant whose own row went by unseen must not hide a release for long.
    if (performance.now() - grant.atMs < limits.zoneViewGrantMs) return true;
    this.ownGrants.delete(ticketNo);
    return false;
  }

  private feedFree(ticketNo: number): void {
    const index = this.index(ticketNo);
    if (index === undefined || this.guarded(ticketNo)) return;
    const was = this.state[index] as Seat;
    if (was === Seat.Taken) this.setState(index, Seat.Free);
    // A reservation stays until its pick is answered; freed, it is free if refused.
    else if (was === Seat.ReservedTaken || was === Seat.Reserved) {
      this.setState(index, Seat.ReservedFreed);
    }
  }

  /** This node's batch granted the ticket: the feed's older `available` rows skip it. */
  private granted(ticketNo: number): void {
    if (!this.following) return;
    const atMs = performance.now();
    const grant = this.ownGrants.get(ticketNo);
    if (grant === undefined) this.ownGrants.set(ticketNo, { count: 1, atMs });
    else {
      grant.count += 1;
      grant.atMs = atMs;
    }
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
    if (was === Seat.Reserved || was === Seat.ReservedFreed) {
      this.setState(index, Seat.ReservedTaken);
    }
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
      const freed = !answer.granted && was === Seat.ReservedFreed;
      if (!freed && (taken.has(ticketNo) || was === Seat.ReservedTaken || was === Seat.Taken)) {
        this.setState(index, Seat.Taken);
        this.reading?.takenSince.push(ticketNo);
        // Seen taken since the pick reserved it: the grant's own row (or a read holding
        // the grant) came first, so a later `available` row is newer and must free it.
        if (answer.granted && was !== Seat.ReservedTaken) this.granted(ticketNo);
      } else {
        this.setState(index, Seat.Free);
      }
    }
  }

  /** Seats this node's batch granted outside best available (named seats): taken now. */
  taken(ticketNos: readonly number[]): void {
    for (const ticketNo of ticketNos) {
      const index = this.index(ticketNo);
      if (index === undefined) continue;
      // Already taken here: the grant's own row came first (see `settle`).
      const known = this.state[index] !== Seat.Free;
      this.markTaken(ticketNo);
      this.reading?.takenSince.push(ticketNo);
      if (!known) this.granted(ticketNo);
    }
  }

  /** Free seats in the view (neither taken nor reserved); for tests. */
  get freeSeats(): number {
    return this.rows.reduce((sum, row) => sum + row.free, 0);
  }

  /** The free seats' tickets (neither taken nor reserved), in order; for tests. */
  freeTicketNos(): number[] {
    const free: number[] = [];
    for (let index = 0; index < this.state.length; index++) {
      if ((this.rowOf[index] ?? -1) >= 0 && this.state[index] === Seat.Free) {
        free.push(index + this.base);
      }
    }
    return free;
  }
}

/** How many zones' views one node keeps (a 50,000-seat zone's view is ~250 KiB). */
const maxZones = 64;

/** The node's following of one event's feed, for its views. */
interface Following {
  views: Set<ZoneView>;
  /** Resolves to the way to stop following, or undefined when the subscribe failed. */
  subscribed: Promise<Unsubscribe | undefined>;
  /** The subscription is up: views added from now on follow at once. */
  ready: boolean;
}

/** One node's zone views (see the module comment). */
export class ZoneViews {
  private readonly views = new Map<string, ZoneView>();
  /** The most recently used view: the last of `views`, when it is there. */
  private newest: ZoneView | undefined;
  /** Events whose feed the views follow: one registration per event, while it has views. */
  private readonly followed = new Map<string, Following>();
  /** When following an event's feed last failed: tried again only after a pause. */
  private readonly followFailedMs = new Map<string, number>();
  private closed = false;

  /**
   * `feed`: the node's feed follower; without one (or with the `unfed` seam) the views are
   * kept fresh by reads alone.
   */
  constructor(
    private readonly db: Queryable, private readonly seam?: ZoneViewSeam,
    private readonly feed?: FeedFollower,
  ) {}

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
        const dropped = this.views.get(oldest.value);
        this.views.delete(oldest.value);
        if (dropped !== undefined) this.stopFollowing(dropped);
      }
    } else if (view !== this.newest) {
      // Most recently used last: re-insert, unless it is already (a busy zone's every pick).
      this.views.delete(key);
      this.views.set(key, view);
    }
    this.newest = view;
    // Also a view whose subscribe failed follows again (after a pause), not only new ones.
    if (this.followed.get(eventId)?.views.has(view) !== true) this.startFollowing(view);
    // Subscribed before the first read, so nothing published between the two is missed;
    // but not for long: without it the view reads unfed and is fed from its next read.
    if (view.empty) await this.subscribedOrLate(eventId);
    await view.ensureFresh();
    return view;
  }

  private async subscribedOrLate(eventId: string): Promise<void> {
    const following = this.followed.get(eventId);
    if (following === undefined || following.ready) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, limits.zoneViewSubscribeWaitMs);
    });
    try {
      await Promise.race([following.subscribed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tickets of `zone` this node's batch granted by name: taken in its view, if it has one. */
  granted(eventId: string, zone: string, ticketNos: readonly number[]): void {
    this.views.get(`${eventId}/${zone}`)?.taken(ticketNos);
  }

  /** Stops following every feed (the node shuts down). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.followed.values()];
    this.followed.clear();
    for (const following of all) {
      for (const view of following.views) view.unfollow();
      following.views.clear();
      const unsubscribe = await following.subscribed;
      await unsubscribe?.();
    }
  }

  private startFollowing(view: ZoneView): void {
    const feed = this.feed;
    if (feed === undefined || this.seam?.unfed === true || this.closed) return;
    const { eventId } = view;
    let following = this.followed.get(eventId);
    if (following === undefined) {
      const failedMs = this.followFailedMs.get(eventId) ?? -Infinity;
      if (performance.now() - failedMs < limits.zoneViewFollowRetryMs) return;
      following = this.subscribe(feed, eventId);
    }
    following.views.add(view);
    if (following.ready) view.follow();
  }

  /** One subscription to the event's feed; its views follow once it is up. */
  private subscribe(feed: FeedFollower, eventId: string): Following {
    const created: Following = {
      views: new Set(), subscribed: Promise.resolve(undefined), ready: false,
    };
    created.subscribed = feed.follow(eventId, (batch) => this.onBatch(created, batch)).then(
      (unsubscribe) => {
        created.ready = true;
        this.followFailedMs.delete(eventId);
        // Following from now: a read started after this sees every later row arrive.
        for (const view of created.views) view.follow();
        return unsubscribe;
      },
      () => {
        // No feed (coordination down): the views stay on reads alone; their next use after
        // `limits.zoneViewFollowRetryMs` tries again.
        if (this.followed.get(eventId) === created) this.followed.delete(eventId);
        this.followFailedMs.set(eventId, performance.now());
        for (const unfed of created.views) unfed.unfollow();
        created.views.clear();
        return undefined;
      });
    this.followed.set(eventId, created);
    return created;
  }

  private stopFollowing(view: ZoneView): void {
    view.unfollow();
    const following = this.followed.get(view.eventId);
    if (following === undefined || !following.views.delete(view)) return;
    if (following.views.size > 0) return;
    this.followed.delete(view.eventId);
    void following.subscribed.then((unsubscribe) => unsubscribe?.()).catch(() => undefined);
  }

  private onBatch(following: Following, batch: FeedBatch): void {
    let failure: unknown;
    for (const view of [...following.views]) {
      try {
        view.applyFeed(batch.rows);
      } catch (error) {
        // One view's fault must not cost the others the batch: that view stops following
        // (reads alone, until its next use follows again) and the follower logs the error.
        view.unfollow();
        following.views.delete(view);
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
