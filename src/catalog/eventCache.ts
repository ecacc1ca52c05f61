/**
 * A per-node cache of event records for the hold route, the hottest read of an on-sale:
 * every hold needs the event's sale window, queue settings, limits and zone prices, and
 * reading them costs two queries per request.
 *
 * An entry lives `ttlMs` (about a second) by the node's clock. So a change to an event
 * (a cancellation, a moved sale window) may reach hold creation up to a TTL late; it is
 * never late for taking money: checkout checks the event in its own transaction. Callers
 * that would refuse a request because of a cached record re-read it first (`refresh`), so
 * a stale record can only let a request through for a moment, never turn one away.
 *
 * Bounded (`maxEntries`, oldest dropped first) and single-flight: many requests for an
 * event whose entry is missing or expired share one database read.
 */
import type { Clock } from '../core/clock.js';
import type { Queryable } from '../storage/index.js';
import { loadEvent, type EventRecord } from './events.js';

/** How an EventCache reads an event; loadEvent unless a test counts the reads. */
export type EventLoader = (db: Queryable, eventId: string) => Promise<EventRecord>;

/** Tuning for an EventCache. */
export interface EventCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  load?: EventLoader;
}

interface Entry {
  record: Promise<EventRecord>;
  loadedAtMs: number;
  settled: boolean;
}

/** A bounded, single-flight, short-lived cache of EventRecords by event id. */
export class EventCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly load: EventLoader;

  constructor(
    private readonly db: Queryable, private readonly clock: Clock, options: EventCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.maxEntries = options.maxEntries ?? 1_000;
    this.load = options.load ?? loadEvent;
  }

  /** The event, from the cache when read less than a TTL ago; not_found like loadEvent. */
  async get(eventId: string): Promise<EventRecord> {
    return (await this.lookup(eventId)).event;
  }

  /**
   * The event and whether it came from an earlier, finished read (`cached`); a read this
   * call started or joined while in flight is fresh.
   */
  async lookup(eventId: string): Promise<{ event: EventRecord; cached: boolean }> {
    const entry = this.entries.get(eventId);
    if (entry !== undefined && this.clock.nowMs() - entry.loadedAtMs < this.ttlMs) {
      return { event: await entry.record, cached: entry.settled };
    }
    return { event: await this.refresh(eventId), cached: false };
  }

  /** Reads the event now (joining a read still in flight), and caches it. */
  async refresh(eventId: string): Promise<EventRecord> {
    const current = this.entries.get(eventId);
    // A read still in flight started a round trip ago at most: as fresh as a new one.
    if (current !== undefined && !current.settled) return await current.record;
    const entry: Entry = {
      record: this.load(this.db, eventId), loadedAtMs: this.clock.nowMs(), settled: false,
    };
    this.entries.delete(eventId);
    this.entries.set(eventId, entry);
    this.evict();
    try {
      return await entry.record;
    } catch (error) {
      // Failures (not_found, a lost connection) are not cached: the next request asks again.
      if (this.entries.get(eventId) === entry) this.entries.delete(eventId);
      throw error;
    } finally {
      entry.settled = true;
    }
  }

  /** Entries held, for tests. */
  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    // Map iteration is insertion order, and refresh re-inserts: the first key is the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) return;
      this.entries.delete(oldest.value);
    }
  }
}
