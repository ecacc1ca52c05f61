/**
 * One node's following of event feeds (FeedFollower): one coordination subscription per
 * event shared by every follower on the node, each batch parsed once for all of them.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Coordinator, Unsubscribe } from '../coord/index.js';
import { FeedFollower, feedChannel, type FeedBatch } from './feed.js';

/** A coordinator that counts live subscriptions. */
function countingCoord(): { coord: Coordinator; live: () => number } {
  const inner = createMemoryCoordinator({});
  let live = 0;
  const coord = Object.create(inner) as Coordinator;
  coord.subscribe = async (channel, handler): Promise<Unsubscribe> => {
    live += 1;
    const unsubscribe = await inner.subscribe(channel, handler);
    return async () => {
      live -= 1;
      await unsubscribe();
    };
  };
  return { coord, live: () => live };
}

const quiet = { warn: () => undefined };

/** Publishes, then lets the in-process transport deliver (after publish, as Redis does). */
async function publish(coord: Coordinator, batch: FeedBatch): Promise<void> {
  await coord.publish(feedChannel(coord, batch.eventId), JSON.stringify(batch));
  await new Promise((resolve) => setImmediate(resolve));
}

describe('feed follower', () => {
  it('shares one subscription per event; the last one out unsubscribes', async () => {
    const { coord, live } = countingCoord();
    const follower = new FeedFollower(coord, quiet);
    const seen: string[] = [];
    const hub = await follower.follow('e1', (b) => seen.push(`hub@${b.rows[0]?.version}`));
    const views = await follower.follow('e1', (b) => seen.push(`views@${b.rows[0]?.version}`));
    expect(live()).toBe(1);
    await publish(coord, { eventId: 'e1', rows: [{ version: 1, effect: 'none', tickets: [] }] });
    await hub();
    expect(live()).toBe(1);
    await publish(coord, { eventId: 'e1', rows: [{ version: 2, effect: 'none', tickets: [] }] });
    await views();
    expect(live()).toBe(0);
    expect(follower.follows('e1')).toBe(false);
    expect(seen).toEqual(['hub@1', 'views@1', 'views@2']);
  });

  it('one follower\'s failure does not cost another the batch', async () => {
    const { coord } = countingCoord();
    const follower = new FeedFollower(coord, quiet);
    const seen: number[] = [];
    await follower.follow('e1', () => {
      throw new Error('boom');
    });
    await follower.follow('e1', (b) => seen.push(b.rows[0]?.version ?? 0));
    await publish(coord, { eventId: 'e1', rows: [{ version: 1, effect: 'none', tickets: [] }] });
    expect(seen).toEqual([1]);
  });
});
