/**
 * A Server-Sent Events connection over a hijacked Fastify reply: headers written by hand
 * (so compression and serializers stay out of it), heartbeats as comment lines, and
 * backpressure handled by keeping only the newest message while the socket drains.
 * Every message is a full state, not a delta, so dropping superseded ones is safe.
 *
 * A connection also ends itself: when its client has not drained for a minute (checked on
 * every send and every heartbeat, so a quiet stream is caught too) and after a maximum
 * lifetime, after which a client reconnects with Last-Event-ID.
 *
 * Streams of deltas (the live seat map) cannot drop superseded messages: with
 * `maxBufferedBytes` every frame is written, and a client that lets more than that pile up
 * unsent is dropped at once (it reconnects and resumes or gets a snapshot), so a slow
 * reader costs the node a bounded amount of memory.
 */
import type { ServerResponse } from 'node:http';

/** One outgoing SSE message. */
export interface SseMessage {
  id: string;
  event: string;
  data: string;
}

// A client that has not drained for this long is gone in all but name.
const maxStallMs = 60_000;

/** How a connection behaves; only the heartbeat is required. */
export interface SseOptions {
  /** Comment lines at this period keep idle proxies from closing the stream. */
  heartbeatMs: number;
  /** The reconnection delay suggested to the client (`retry:`). */
  retryMs?: number;
  /** The server ends the stream after this long; the client reconnects. */
  maxLifetimeMs?: number;
  /** Write every frame and drop the client once this many bytes wait unsent. */
  maxBufferedBytes?: number;
}

/** Writes SSE frames to one response until either side closes it. */
export class SseConnection {
  private closed = false;
  private waiting: SseMessage | undefined;
  private stalledSinceMs: number | null = null;
  private readonly heartbeat: NodeJS.Timeout | undefined;
  private readonly lifetime: NodeJS.Timeout | undefined;
  private readonly onClose = new Set<() => void>();
  private readonly maxBufferedBytes: number | undefined;
  private droppedSlow = false;

  constructor(private readonly raw: ServerResponse, options: SseOptions) {
    const { heartbeatMs, retryMs = 3_000, maxLifetimeMs } = options;
    this.maxBufferedBytes = options.maxBufferedBytes;
    // The client may have left while the stream was being set up: 'close' has been and gone.
    if (raw.destroyed || (raw.socket?.destroyed ?? true)) {
      this.closed = true;
      return;
    }
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    raw.write(`retry: ${retryMs}\n\n`);
    this.heartbeat = setInterval(() => this.comment('hb'), heartbeatMs);
    this.heartbeat.unref();
    if (maxLifetimeMs !== undefined) {
      this.lifetime = setTimeout(() => this.end(), maxLifetimeMs);
      this.lifetime.unref();
    }
    raw.on('close', () => this.close());
    raw.on('drain', () => this.flush());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when the connection was dropped for letting too much pile up unsent. */
  get wasDroppedSlow(): boolean {
    return this.droppedSlow;
  }

  /**
   * Writes an already encoded frame (shared by every client of a broadcast). Only for
   * connections with `maxBufferedBytes`: nothing is ever skipped, the slow are dropped.
   */
  sendFrame(frame: Buffer | string): void {
    if (this.closed) return;
    this.raw.write(frame);
    const limit = this.maxBufferedBytes;
    if (limit !== undefined && this.raw.writableLength > limit) this.drop();
  }

  /** Drops a client that does not keep up; destroying frees what waits unsent. */
  private drop(): void {
    this.droppedSlow = true;
    this.raw.destroy();
    this.close();
  }

  /** Runs `listener` once when the connection closes (either side). */
  whenClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.onClose.add(listener);
  }

  /** Sends now, or after the socket drains (replacing any message already waiting). */
  send(message: SseMessage): void {
    if (this.closed) return;
    if (this.stalledSinceMs !== null) {
      this.waiting = message;
      this.endIfStalled();
      return;
    }
    const frame = `id: ${message.id}\nevent: ${message.event}\ndata: ${message.data}\n\n`;
    if (!this.raw.write(frame)) this.stalledSinceMs = performance.now();
  }

  /** Ends the response (server side). */
  end(): void {
    if (this.closed) return;
    this.raw.end();
    this.close();
  }

  /** Ends the stream once the client has not drained for too long. */
  private endIfStalled(): void {
    if (this.stalledSinceMs === null || performance.now() - this.stalledSinceMs <= maxStallMs) {
      return;
    }
    // Ending politely would wait for the very drain that is not coming.
    this.raw.destroy();
    this.close();
  }

  private comment(text: string): void {
    if (this.closed) return;
    if (this.maxBufferedBytes !== undefined) {
      this.sendFrame(`: ${text}\n\n`);
      return;
    }
    if (this.stalledSinceMs !== null) {
      this.endIfStalled();
      return;
    }
    if (!this.raw.write(`: ${text}\n\n`)) this.stalledSinceMs = performance.now();
  }

  private flush(): void {
    this.stalledSinceMs = null;
    const next = this.waiting;
    this.waiting = undefined;
    if (next !== undefined) this.send(next);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.lifetime);
    for (const listener of this.onClose) listener();
    this.onClose.clear();
  }
}
