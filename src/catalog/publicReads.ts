/**
 * A per-node cache of the public catalog reads, `GET /events/:id` and search: in an on-sale
 * every fan's page reloads the event, and each read costs several queries (availability
 * per zone). Entries live `ttlMs` (default 1 s, PUBLIC_READ_CACHE_MS; 0 turns it off), at
 * most `maxEntries` of each kind (least recently used dropped first), and concurrent misses
 * for one key share one database read (lru-cache `fetch`).
 *
 * What a fan can see: availability and event details up to one TTL old (plus the standby's
 * lag when reads go to DATABASE_READ_URL), and a search page up to one TTL old. On the
 * node that changes an event (cancellation) the event and every search page are dropped at
 * once; other nodes catch up within the TTL. Nothing here decides anything: holds and
 * checkout read the event in their own transactions.
 */
import { LRUCache } from 'lru-cache';

import type { EventDetails, SearchPage } from './schemas.js';

/** Tuning: entry age and how many entries of each kind a node keeps. */
export interface PublicReadCacheOptions {
  ttlMs: number;
  maxEntries: number;
}

type Loader<T> = () => Promise<T>;

/** The event and search caches of one node. */
export class PublicReadCache {
  private readonly events: LRUCache<string, EventDetails, Loader<EventDetails>> | undefined;
  private readonly searches: LRUCache<string, SearchPage, Loader<SearchPage>> | undefined;

  constructor(options: PublicReadCacheOptions) {
    if (options.ttlMs <= 0) return;
    const common = { max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false };
    this.events = new LRUCache<string, EventDetails, Loader<EventDetails>>({
      ...common, fetchMethod: async (_key, _stale, { context }) => await context(),
    });
    this.searches = new LRUCache<string, SearchPage, Loader<SearchPage>>({
      ...common, fetchMethod: async (_key, _stale, { context }) => await context(),
    });
  }

  /** The event's details, from the cache when read less than a TTL ago. */
  async event(eventId: string, load: Loader<EventDetails>): Promise<EventDetails> {
    if (this.events === undefined) return await load();
    return (await this.events.fetch(eventId, { context: load })) as EventDetails;
  }

  /** A search page by its (normalized) query, from the cache when fresh. */
  async search(query: object, load: Loader<SearchPage>): Promise<SearchPage> {
    if (this.searches === undefined) return await load();
    const key = JSON.stringify(Object.entries(query).sort(([a], [b]) => a.localeCompare(b)));
    return (await this.searches.fetch(key, { context: load })) as SearchPage;
  }

  /** Drops what this node caches about an event it just changed (and every search page). */
  invalidateEvent(eventId: string): void {
    this.events?.delete(eventId);
    this.searches?.clear();
  }
}
