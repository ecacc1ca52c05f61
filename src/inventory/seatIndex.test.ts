/** The per-node seat index: one read per event, shared, bounded by events. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Queryable } from '../storage/index.js';
import { clearSeatIndexes, seatIndex, seatIndexSize } from './seatIndex.js';

/** A fake database answering two seats per event and counting the reads. */
function fakeDb(): { db: Queryable; reads: string[] } {
  const reads: string[] = [];
  const query = async (_sql: string, params?: unknown[]) => {
    const eventId = String(params?.[0]);
    reads.push(eventId);
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { rows: [{ seat_id: 'A-1-1', ticket_no: 1 }, { seat_id: 'A-1-2', ticket_no: 2 }],
      rowCount: 2 };
  };
  return { db: { query } as unknown as Queryable, reads };
}

describe('seatIndex', () => {
  beforeEach(() => clearSeatIndexes());

  it('reads an event once, shared by concurrent callers', async () => {
    const { db, reads } = fakeDb();
    const maps = await Promise.all(Array.from({ length: 20 }, () => seatIndex(db, 'e1')));
    expect(reads).toEqual(['e1']);
    expect(maps[0]?.get('A-1-2')).toBe(2);
    expect(maps[0]?.has('A-9-9')).toBe(false);
    await seatIndex(db, 'e1');
    expect(reads).toEqual(['e1']);
  });

  it('keeps a bounded number of events, dropping the least recently used', async () => {
    const { db, reads } = fakeDb();
    await seatIndex(db, 'first');
    for (let i = 0; i < 31; i++) await seatIndex(db, `e${i}`);
    await seatIndex(db, 'first'); // used again: now the most recent
    await seatIndex(db, 'one-more');
    expect(seatIndexSize()).toBe(32);
    await seatIndex(db, 'first');
    expect(reads.filter((id) => id === 'first')).toHaveLength(1);
    await seatIndex(db, 'e0'); // was the least recently used: dropped, read again
    expect(reads.filter((id) => id === 'e0')).toHaveLength(2);
  });
});
