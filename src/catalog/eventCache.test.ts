/** The hold route's event cache: TTL by the injected clock, single flight, bounded. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';
import { EventCache } from './eventCache.js';
import type { EventRecord } from './events.js';

const noDb = {} as Queryable;

interface CountingLoader {
  reads: string[];
  load: (db: Queryable, eventId: string) => Promise<EventRecord>;
  /** Makes later reads wait until `release`. */
  hold: () => void;
  release: () => void;
}

/** A loader that counts reads and answers a record whose title is the read's number. */
function countingLoader(): CountingLoader {
  const reads: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  return {
    reads,
    hold: () => {
      gate = new Promise((resolve) => { open = resolve; });
    },
    release: () => open(),
    load: async (_db, eventId) => {
      reads.push(eventId);
      const title = String(reads.length);
      await gate;
      if (eventId === 'missing') throw new DomainError('not_found', `no event ${eventId}`);
      return { eventId, title } as EventRecord;
    },
  };
}

describe('EventCache', () => {
  it('answers from memory within the TTL and reads again after it', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    const cache = new EventCache(noDb, clock, { ttlMs: 1_000, load: loader.load });
    expect((await cache.get('e1')).title).toBe('1');
    clock.advance(999);
    expect((await cache.get('e1')).title).toBe('1');
    expect(loader.reads).toEqual(['e1']);
    clock.advance(1);
    expect((await cache.get('e1')).title).toBe('2');
    expect(loader.reads).toEqual(['e1', 'e1']);
  });

  it('shares one read among concurrent requests (single flight)', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    loader.hold();
    const cache = new EventCache(noDb, clock, { load: loader.load });
    const pending = Array.from({ length: 50 }, () => cache.get('e1'));
    // A refresh while that read is in flight joins it too.
    pending.push(cache.refresh('e1'));
    loader.release();
    const records = await Promise.all(pending);
    expect(loader.reads).toEqual(['e1']);
    expect(new Set(records).size).toBe(1);
  });

  it('refresh reads again at once when no read is in flight', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    const cache = new EventCache(noDb, clock, { load: loader.load });
    await cache.get('e1');
    expect((await cache.refresh('e1')).title).toBe('2');
    expect((await cache.get('e1')).title).toBe('2');
  });

  it('says whether an answer came from an earlier, finished read', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    const cache = new EventCache(noDb, clock, { load: loader.load });
    expect((await cache.lookup('e1')).cached).toBe(false);
    expect((await cache.lookup('e1')).cached).toBe(true);
    clock.advance(1_000);
    expect((await cache.lookup('e1')).cached).toBe(false);
  });

  it('does not cache failures', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    const cache = new EventCache(noDb, clock, { load: loader.load });
    await expect(cache.get('missing')).rejects.toMatchObject({ code: 'not_found' });
    await expect(cache.get('missing')).rejects.toMatchObject({ code: 'not_found' });
    expect(loader.reads).toEqual(['missing', 'missing']);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest read first', async () => {
    const clock = new ManualClock();
    const loader = countingLoader();
    const cache = new EventCache(noDb, clock, { maxEntries: 2, load: loader.load });
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');
    expect(cache.size).toBe(2);
    await cache.get('b');
    await cache.get('c');
    expect(loader.reads).toEqual(['a', 'b', 'c']);
    await cache.get('a');
    expect(loader.reads).toEqual(['a', 'b', 'c', 'a']);
    expect(cache.size).toBe(2);
  });
});
