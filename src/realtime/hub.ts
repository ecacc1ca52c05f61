/**
 * Per-node fan-out of the live seat-map feed. However many clients of one event a node
 * has, it follows that event's feed once (only while it has clients for it; through the
 * node's one subscription per event, outbox/feed.ts FeedFollower), and keeps one
 * in-memory copy of the event's seat states, one encoded snapshot per version and one
 * encoded frame per delta, written as is to every client.
 *
 * Ordering and gaps: batches apply strictly version after version. A duplicate (at or
 * below the node's version) is skipped; a hole (a lost pub/sub message, a Redis restart)
 * makes the node re-read the event from PostgreSQL and send every client a fresh
 * snapshot, so no client is ever left on a state with a missing change.
 *
 * Resume: the node keeps the last few hundred delta batches per event, so a client that
 * reconnects with the last version it saw gets just what it missed; an older version, or
 * one this node never saw, gets a snapshot.
 */
import type { AppContext } from '../context.js';
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';
import type { Unsubscribe } from '../coord/index.js';
import { readSeatStates } from '../inventory/seatmap.js';
import { feedFollower, type FeedBatch } from '../outbox/feed.js';
import { batchOf, encodeFrame, type LiveBatch, type LiveFrame } from './messages.js';
import { GapError, LiveEventState } from './state.js';

/** One connected client, whatever its transport. */
export interface LiveClient {
  /** Writes frames; the transport drops the client itself when it falls too far behind. */
  send(batch: LiveBatch): void;
  /** Ends the stream (after an `end` message, or when the node shuts down). */
  end(): void;
}

interface ReplayEntry {
  prevVersion: number;
  version: number;
  batch: LiveBatch;
}

interface Channel {
  eventId: string;
  clients: Set<LiveClient>;
  state: LiveEventState | undefined;
  /** Set while the state is (re)loading; batches that arrive meanwhile wait in `pending`. */
  loading: Promise<void> | undefined;
  pending: FeedBatch[];
  replay: ReplayEntry[];
  snapshot: { version: number; batch: LiveBatch } | undefined;
  subscribed: Promise<Unsubscribe>;
  /** Reserved joins not yet added as clients; keeps the channel from closing under them. */
  joining: number;
}

/** Counters for metrics and tests. */
export interface HubStats {
  events: number;
  clients: number;
  resyncs: number;
  snapshotsBuilt: number;
}

/** The live feed's fan-out on one node. */
export class LiveHub {
  private readonly channels = new Map<string, Channel>();
  private resyncs = 0;
  private snapshotsBuilt = 0;

  constructor(private readonly ctx: AppContext) {}

  stats(): HubStats {
    let clients = 0;
    for (const channel of this.channels.values()) clients += channel.clients.size;
    return { events: this.channels.size, clients, resyncs: this.resyncs,
      snapshotsBuilt: this.snapshotsBuilt };
  }

  /** True while this node subscribes to the event's feed. */
  follows(eventId: string): boolean {
    return this.channels.has(eventId);
  }

  /**
   * Prepares the event's channel (subscribe, load) before a stream opens, so an unknown
   * event is an ordinary 404; returns the join to call once the transport is ready, or
   * `cancel` if it never gets there.
   */
  async prepare(eventId: string): Promise<{
    join(client: LiveClient, lastVersion: number | undefined): void;
    cancel(): void;
  }> {
    let channel = this.channels.get(eventId);
    if (channel === undefined) {
      if (this.channels.size >= limits.liveEventsPerNode) {
        throw new DomainError('live_node_full', 'this node follows too many events already',
          { retryAfterSeconds: 5 });
      }
      channel = this.open(eventId);
    }
    const joined = channel;
    joined.joining += 1;
    let done = false;
    const settle = (): boolean => {
      if (done) return false;
      done = true;
      joined.joining -= 1;
      return true;
    };
    try {
      await joined.subscribed;
      while (joined.loading !== undefined) await joined.loading;
    } catch (error) {
      settle();
      await this.closeIfIdle(joined);
      throw error;
    }
    return {
      join: (client, lastVersion) => {
        if (!settle()) return;
        this.join(joined, client, lastVersion);
      },
      cancel: () => {
        if (settle()) void this.closeIfIdle(joined);
      },
    };
  }

  /** Stops following a client (it closed); the last one out unsubscribes. */
  leave(eventId: string, client: LiveClient): void {
    const channel = this.channels.get(eventId);
    if (channel === undefined) return;
    channel.clients.delete(client);
    void this.closeIfIdle(channel);
  }

  /** Sends the client a fresh snapshot (a WebSocket client asked after seeing a gap). */
  resend(eventId: string, client: LiveClient): void {
    const channel = this.channels.get(eventId);
    if (channel?.state === undefined || channel.loading !== undefined) return;
    client.send(this.snapshotOf(channel, channel.state));
  }

  /** Ends every stream and drops every subscription (node shutdown). */
  async close(): Promise<void> {
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const channel of channels) {
      for (const client of channel.clients) client.end();
      channel.clients.clear();
      await this.unsubscribe(channel);
    }
  }

  private open(eventId: string): Channel {
    const channel: Channel = {
      eventId, clients: new Set(), state: undefined, loading: undefined, pending: [],
      replay: [], snapshot: undefined, joining: 0,
      subscribed: Promise.resolve(async () => undefined),
    };
    // Subscribe first, then read: nothing published between the two is missed.
    channel.subscribed = feedFollower(this.ctx.coord, this.ctx.logger)
      .follow(eventId, (batch) => this.onBatch(channel, batch));
    channel.loading = channel.subscribed.then(() => this.load(channel));
    channel.loading.catch(() => undefined);
    this.channels.set(eventId, channel);
    return channel;
  }

  /** Reads the event from PostgreSQL, then applies what arrived meanwhile. */
  private async load(channel: Channel): Promise<void> {
    try {
      const states = await readSeatStates(this.ctx.db, channel.eventId);
      channel.state = new LiveEventState(states);
      channel.snapshot = undefined;
      channel.replay = [];
    } finally {
      channel.loading = undefined;
    }
    const waiting = channel.pending.splice(0);
    for (const batch of waiting) this.applyBatch(channel, batch);
  }

  private onBatch(channel: Channel, batch: FeedBatch): void {
    if (channel.loading !== undefined || channel.state === undefined) {
      // Bounded: dropping the oldest leaves a hole, which the next apply turns into a resync.
      if (channel.pending.push(batch) > limits.liveReplayBatches) channel.pending.shift();
      if (channel.loading === undefined) this.resync(channel, undefined);
      return;
    }
    this.applyBatch(channel, batch);
  }

  private applyBatch(channel: Channel, batch: FeedBatch): void {
    const state = channel.state;
    if (state === undefined) return;
    let applied;
    try {
      applied = state.apply(batch.rows);
    } catch (error) {
      if (!(error instanceof GapError)) throw error;
      this.resync(channel, error);
      return;
    }
    if (applied === undefined) return;
    const frames = [encodeFrame('seats', applied.seats)];
    if (applied.availability !== undefined) {
      frames.push(encodeFrame('availability', applied.availability));
    }
    const step = batchOf(frames);
    channel.replay.push({ prevVersion: applied.prevVersion, version: applied.version,
      batch: step });
    if (channel.replay.length > limits.liveReplayBatches) channel.replay.shift();
    for (const client of [...channel.clients]) {
      client.send(step);
      if (applied.ended) this.finish(channel, client, state);
    }
  }

  /** A version went missing: re-read the event, then give every client a snapshot. */
  private resync(channel: Channel, gap: GapError | undefined): void {
    this.resyncs += 1;
    this.ctx.logger.warn({ eventId: channel.eventId, have: gap?.have, got: gap?.got },
      'live feed gap; re-reading the event');
    channel.state = undefined;
    channel.loading = this.load(channel)
      .then(() => {
        const state = channel.state;
        if (state === undefined) return;
        const snapshot = this.snapshotOf(channel, state);
        for (const client of [...channel.clients]) this.greet(channel, client, snapshot, state);
      })
      .catch((error: unknown) => {
        // Without a state the clients cannot be served correctly: end them; they reconnect.
        this.ctx.logger.warn({ err: error, eventId: channel.eventId }, 'live resync failed');
        for (const client of [...channel.clients]) client.end();
      });
  }

  private join(channel: Channel, client: LiveClient, lastVersion: number | undefined): void {
    const state = channel.state;
    if (state === undefined) {
      client.end();
      return;
    }
    channel.clients.add(client);
    const missed = this.missedSince(channel, lastVersion, state);
    if (missed === undefined) {
      this.greet(channel, client, this.snapshotOf(channel, state), state);
      return;
    }
    for (const batch of missed) client.send(batch);
    if (state.ended) this.finish(channel, client, state);
  }

  /** Sends a snapshot, then `end` when the feed is over. */
  private greet(
    channel: Channel, client: LiveClient, snapshot: LiveBatch, state: LiveEventState,
  ): void {
    client.send(snapshot);
    if (state.ended) this.finish(channel, client, state);
  }

  private finish(channel: Channel, client: LiveClient, state: LiveEventState): void {
    client.send(batchOf([endFrame(state)]));
    channel.clients.delete(client);
    client.end();
  }

  /** Frames a client at `lastVersion` missed, or undefined when it needs a snapshot. */
  private missedSince(
    channel: Channel, lastVersion: number | undefined, state: LiveEventState,
  ): LiveBatch[] | undefined {
    if (lastVersion === undefined || lastVersion > state.version) return undefined;
    if (lastVersion === state.version) return [];
    const from = channel.replay.findIndex((entry) => entry.prevVersion === lastVersion);
    if (from < 0) return undefined;
    return channel.replay.slice(from).map((entry) => entry.batch);
  }

  /** The snapshot at the state's version, encoded once per version on this node. */
  private snapshotOf(channel: Channel, state: LiveEventState): LiveBatch {
    if (channel.snapshot?.version !== state.version) {
      channel.snapshot = { version: state.version,
        batch: batchOf([encodeFrame('snapshot', state.snapshot())]) };
      this.snapshotsBuilt += 1;
    }
    return channel.snapshot.batch;
  }

  private async closeIfIdle(channel: Channel): Promise<void> {
    if (channel.clients.size > 0 || channel.joining > 0) return;
    if (this.channels.get(channel.eventId) !== channel) return;
    this.channels.delete(channel.eventId);
    await this.unsubscribe(channel);
  }

  private async unsubscribe(channel: Channel): Promise<void> {
    try {
      const unsubscribe = await channel.subscribed;
      await unsubscribe();
    } catch (error) {
      this.ctx.logger.warn({ err: error, eventId: channel.eventId }, 'live unsubscribe failed');
    }
  }
}

function endFrame(state: LiveEventState): LiveFrame {
  return encodeFrame('end', { version: state.version, reason: 'cancelled' });
}

const hubs = new WeakMap<AppContext, LiveHub>();

/** This node's live hub (one per context). */
export function liveHub(ctx: AppContext): LiveHub {
  let hub = hubs.get(ctx);
  if (hub === undefined) {
    hub = new LiveHub(ctx);
    hubs.set(ctx, hub);
  }
  return hub;
}
