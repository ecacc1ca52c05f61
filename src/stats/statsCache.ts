/**
 * A per-node cache of the organizer's live on-sale figures. Computing them reads the line,
 * every ticket's state, the orders and two minutes of history: about 150 ms of PostgreSQL
 * in a 150,000-fan sale, where a dashboard polling twice a second cost PostgreSQL more than
 * the admission tick did (docs/benchmarks-journal.md, "Inside the crowd"). Entries live `ttlMs`
 * (STATS_CACHE_MS, default 1 s; 0 turns the cache off) and requests for an event whose
 * entry is missing or old share one computation (lru-cache `fetch`), so the figures cost
 * one computation per event, node and second however many organizers watch. The figures
 * decide nothing; `asOf` says when they were computed.
 */
import { LRUCache } from 'lru-cache';

import type { OnSaleStats } from './onsale.js';

type Compute = () => Promise<OnSaleStats>;

/** Bounded, short-lived, single-flight on-sale figures by event id. */
export class OnSaleStatsCache {
  private readonly entries: LRUCache<string, OnSaleStats, Compute> | undefined;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    if (options.ttlMs <= 0) return;
    this.entries = new LRUCache<string, OnSaleStats, Compute>({
      max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false,
      fetchMethod: async (_key, _stale, { context }) => await context(),
    });
  }

  /** The event's figures, computed by `compute` unless a fresh entry or a computation exists. */
  async get(eventId: string, compute: Compute): Promise<OnSaleStats> {
    if (this.entries === undefined) return await compute();
    return (await this.entries.fetch(eventId, { context: compute })) as OnSaleStats;
  }
}
