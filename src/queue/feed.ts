/**
 * Per-node fan-out of line ticks. However many fans of one event are connected to a node,
 * the node holds one coordinator subscription for that event and hands each tick to every
 * local listener; each listener (one SSE connection) works out its own position. Moving a
 * line therefore costs one published message per tick, not one per fan.
 */
import type { Coordinator, CoordLogger, Unsubscribe } from '../coord/index.js';
import type { LineStatus } from './types.js';

type Listener = (status: LineStatus) => void;

interface Channel {
  listeners: Set<Listener>;
  /** Holders that keep the subscription for `latest` only (polls), not counted as streams. */
  followers: number;
  /** The subscription, in flight or done; listeners added meanwhile wait for it. */
  subscribed: Promise<Unsubscribe>;
  latest: LineStatus | undefined;
}

/** The coordinator channel a line's ticks travel on. */
export function ticksChannel(coord: Coordinator, eventId: string): string {
  return coord.keys.event(eventId, 'queue:ticks');
}

function parseStatus(message: string): LineStatus | undefined {
  try {
    const value = JSON.parse(message) as Partial<LineStatus>;
    if (typeof value.eventId !== 'string' || typeof value.seq !== 'number') return undefined;
    if (typeof value.servedUpTo !== 'number') return undefined;
    return value as LineStatus;
  } catch {
    return undefined;
  }
}

/** Subscribes once per event on this node and multiplexes ticks to local listeners. */
export class LineFeed {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly coord: Coordinator,
    private readonly logger: CoordLogger,
  ) {}

  /** Local listeners across all events (for connection limits and metrics). */
  get listenerCount(): number {
    let total = 0;
    for (const channel of this.channels.values()) total += channel.listeners.size;
    return total;
  }

  /** The newest tick this node has seen for the event, if any. */
  latest(eventId: string): LineStatus | undefined {
    return this.channels.get(eventId)?.latest;
  }

  /** Calls `listener` on every tick of the event until the returned function is called. */
  async listen(eventId: string, listener: Listener): Promise<() => Promise<void>> {
    const joined = this.channel(eventId);
    joined.listeners.add(listener);
    try {
      await joined.subscribed;
    } catch (error) {
      await this.leave(eventId, joined, listener);
      throw error;
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      await this.leave(eventId, joined, listener);
    };
  }

  /**
   * Keeps the event's subscription so `latest` follows its ticks, without a listener (the
   * waiting room does this for polls); not counted in `listenerCount`. Resolves once
   * subscribed; the returned function lets go.
   */
  async follow(eventId: string): Promise<() => Promise<void>> {
    const joined = this.channel(eventId);
    joined.followers += 1;
    let active = true;
    const stop = async (): Promise<void> => {
      if (!active) return;
      active = false;
      joined.followers -= 1;
      await this.release(eventId, joined);
    };
    try {
      await joined.subscribed;
    } catch (error) {
      await stop();
      throw error;
    }
    return stop;
  }

  private channel(eventId: string): Channel {
    const known = this.channels.get(eventId);
    if (known !== undefined) return known;
    const fresh: Channel = {
      listeners: new Set(),
      followers: 0,
      latest: undefined,
      subscribed: this.coord.subscribe(ticksChannel(this.coord, eventId), (message) =>
        this.deliver(fresh, message)),
    };
    this.channels.set(eventId, fresh);
    return fresh;
  }

  private deliver(channel: Channel, message: string): void {
    const status = parseStatus(message);
    if (status === undefined) {
      this.logger.warn({ message: message.slice(0, 200) }, 'unreadable queue tick dropped');
      return;
    }
    // Ticks from two leaders around a failover may cross; never step a fan backwards.
    if (channel.latest !== undefined && status.seq <= channel.latest.seq) return;
    channel.latest = status;
    for (const listener of [...channel.listeners]) {
      try {
        listener(status);
      } catch (error) {
        this.logger.warn({ err: error }, 'queue feed listener threw');
      }
    }
  }

  private async leave(eventId: string, channel: Channel, listener: Listener): Promise<void> {
    channel.listeners.delete(listener);
    await this.release(eventId, channel);
  }

  /** Unsubscribes once nobody listens to or follows the channel any more. */
  private async release(eventId: string, channel: Channel): Promise<void> {
    if (channel.listeners.size > 0 || channel.followers > 0) return;
    if (this.channels.get(eventId) !== channel) return;
    this.channels.delete(eventId);
    try {
      const unsubscribe = await channel.subscribed;
      await unsubscribe();
    } catch (error) {
      this.logger.warn({ err: error, eventId }, 'queue feed unsubscribe failed');
    }
  }
}
