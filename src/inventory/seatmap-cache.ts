/**
 * A per-node cache of serialized seat maps. In an on-sale thousands of fans open the same
 * map in the same second; each map of 50,000 seats costs ~25 ms of database time and more
 * to serialize. Readers within `maxAgeMs` share one read (single flight) and one gzip.
 * A cached map is at most `maxAgeMs` stale and says so through its `version`: live deltas
 * with a higher version apply on top of it.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Clock } from '../core/clock.js';
import type { Queryable } from '../storage/index.js';
import { getSeatMap } from './seatmap.js';

const gzip = promisify(gzipCallback);

/** A seat map ready to send: JSON text and its gzip encoding. */
export interface SerializedSeatMap {
  json: string;
  gzipped: Buffer;
  version: number;
}

interface Entry {
  atMs: number;
  value: Promise<SerializedSeatMap>;
}

export interface SeatMapCacheOptions {
  maxAgeMs?: number;
  /** Events kept at once; the least recently read is dropped beyond this. */
  maxEvents?: number;
}

/** Serves seat maps from a short-lived, single-flight cache. */
export class SeatMapCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAgeMs: number;
  private readonly maxEvents: number;

  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
    options: SeatMapCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 250;
    this.maxEvents = options.maxEvents ?? 500;
  }

  /** The map of an event, at most maxAgeMs old. Rejects like getSeatMap (not_found). */
  get(eventId: string): Promise<SerializedSeatMap> {
    const nowMs = this.clock.nowMs();
    const cached = this.entries.get(eventId);
    if (cached !== undefined && nowMs - cached.atMs < this.maxAgeMs) {
      // Re-insert to mark as recently used.
      this.entries.delete(eventId);
      this.entries.set(eventId, cached);
      return cached.value;
    }
    const value = this.load(eventId);
    this.entries.set(eventId, { atMs: nowMs, value });
    value.catch(() => this.entries.delete(eventId));
    while (this.entries.size > this.maxEvents) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return value;
  }

  private async load(eventId: string): Promise<SerializedSeatMap> {
    const map = await getSeatMap(this.db, eventId);
    const json = JSON.stringify(map);
    return { json, gzipped: await gzip(json, { level: 6 }), version: map.version };
  }
}
