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
    let channel = this.channels.get(eventId);
    if (channel === undefined) {
      const fresh: Channel = {
        listeners: new Set(),
        latest: undefined,
        subscribed: this.coord.subscribe(ticksChannel(this.coord, eventId), (message) =>
          this.deliver(fresh, message)),
      };
      channel = fresh;
      this.channels.set(eventId, channel);
    }
    const joined = channel;
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
    if (channel.listeners.size > 0 || this.channels.get(eventId) !== channel) return;
    this.channels.delete(eventId);
    try {
      const unsubscribe = await channel.subscribed;
      await unsubscribe();
    } catch (error) {
      this.logger.warn({ err: error, eventId }, 'queue feed unsubscribe failed');
    }
  }
}
