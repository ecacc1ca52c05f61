/**
 * Watching one's place in line: turns the line's ticks into this fan's views. This is the
 * per-connection half of "one broadcast per tick": the tick carries servedUpTo and the
 * rate, and each watcher computes its own position and ETA without any I/O, touching
 * PostgreSQL only when its number comes up (to fetch the pass; watching never claims it)
 * or, while the pre-queue draw hands out numbers in chunks after on-sale, to learn its
 * number: at most once per `preQueueRecheckMs`, so a million pre-queue watchers do not
 * read the database on every tick of the draw.
 */
import type { EventRecord } from '../catalog/events.js';
import { DomainError } from '../core/errors.js';
import { findEntry } from './line.js';
import type { WaitingRoom } from './room.js';
import type { EntryRef, LineStatus, QueueView } from './types.js';

/** How often a pre-queue watcher looks for its number once the draw has started. */
export const preQueueRecheckMs = 5_000;

/** Receives each new view with the tick sequence it was computed at. */
export type ViewListener = (view: QueueView, seq: number) => void;

/** One fan's subscription to their line. */
export class QueueWatch {
  private lastSeq = -1;
  /** When this watcher last read its entry while it had no number (this node's clock). */
  private entryReadAtMs: number | undefined;
  private last: QueueView | undefined;
  private pending: LineStatus | undefined;
  private busy = false;
  private closed = false;
  private unlisten: () => Promise<void> = async () => {};

  private constructor(
    private readonly room: WaitingRoom,
    private readonly event: EventRecord,
    private entry: EntryRef,
    private readonly listener: ViewListener,
    private readonly nowMs: () => number,
  ) {}

  /**
   * Starts watching; resolves with the current view and its sequence (sent first by the
   * caller). Throws not_found when the customer is not in the line.
   */
  static async open(
    room: WaitingRoom, event: EventRecord, customerId: string, listener: ViewListener,
    nowMs: () => number,
  ): Promise<{ watch: QueueWatch; view: QueueView; seq: number }> {
    if (!event.queue.enabled) {
      // Nothing to wait for: one view, no subscription.
      const watch = new QueueWatch(room, event, { customerId, number: null }, listener, nowMs);
      watch.closed = true;
      return { watch, view: await room.view(event, customerId), seq: 0 };
    }
    const entry = await room.entry(event.eventId, customerId);
    if (entry === undefined) {
      throw new DomainError('not_found', 'you are not in this event\'s queue; join it first');
    }
    const watch = new QueueWatch(room, event, entry, listener, nowMs);
    // Listen before reading the status, so no tick can fall between the two.
    watch.unlisten = await room.feed.listen(event.eventId, (status) => watch.onTick(status));
    try {
      const status = await room.status(event);
      const view = await watch.compute(status);
      watch.lastSeq = status.seq;
      watch.last = view;
      return { watch, view, seq: status.seq };
    } catch (error) {
      await watch.close();
      throw error;
    }
  }

  /** Stops watching; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.unlisten();
  }

  private onTick(status: LineStatus): void {
    if (this.closed || status.seq <= this.lastSeq) return;
    if (this.busy) {
      this.pending = status;
      return;
    }
    void this.process(status);
  }

  private async process(first: LineStatus): Promise<void> {
    this.busy = true;
    let status: LineStatus | undefined = first;
    try {
      while (status !== undefined && !this.closed) {
        if (status.seq > this.lastSeq && !this.settled(status)) {
          const view = await this.compute(status);
          this.lastSeq = status.seq;
          this.last = view;
          this.listener(view, status.seq);
        }
        status = this.pending;
        this.pending = undefined;
      }
    } catch {
      // A failed lookup (database blip) skips this tick; the next one retries.
    } finally {
      this.busy = false;
    }
  }

  /**
   * Nothing a tick can change: expired for good, or admitted with a claimed, live pass.
   * An admitted fan who has not placed a hold yet is re-read every tick, so the view shows
   * the claim as soon as it happens and `expired` as soon as the grace runs out. (This
   * node's clock only decides when to look again; the database decides what is live.)
   */
  private settled(status: LineStatus): boolean {
    const last = this.last;
    if (last === undefined || status.soldOut) return false;
    if (last.state === 'expired') return true;
    if (last.state !== 'admitted' || last.passExpiresAt === undefined) return false;
    if (last.claimBy !== undefined) return false;
    return Date.parse(last.passExpiresAt) > this.nowMs();
  }

  private mayRecheck(): boolean {
    const last = this.entryReadAtMs;
    const now = this.nowMs();
    return last === undefined || now - last >= preQueueRecheckMs || now < last;
  }

  private async compute(status: LineStatus): Promise<QueueView> {
    if (this.entry.number === null && status.drawn && this.mayRecheck()) {
      this.entryReadAtMs = this.nowMs();
      const fresh = await findEntry(this.room.db, this.event.eventId, this.entry.customerId);
      if (fresh !== undefined) {
        this.entry = fresh;
        await this.room.remember(this.event.eventId, fresh);
      }
    }
    return await this.room.viewAt(this.event, this.entry, status);
  }
}
