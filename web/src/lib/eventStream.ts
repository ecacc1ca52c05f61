/**
 * Server-Sent Events over fetch (EventSource cannot send an Authorization header): parses
 * the stream with eventsource-parser, reconnects with backoff and Last-Event-ID, and tells
 * the caller about each (re)connection so it can resynchronise. Used by the live seat map
 * and the waiting room.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { session } from './session';

export interface EventStreamOptions {
  /** Sends the customer's token (streams that need a customer). */
  authenticated?: boolean;
  onMessage(message: EventSourceMessage): void;
  /** Each time the stream (re)opens. */
  onOpen?(): void;
  /** An answer that is not a stream (e.g. 404, 401): the stream stops unless this returns true. */
  onRefused?(response: Response): boolean;
  /** The connection failed or dropped; it is retried with backoff. */
  onDown?(): void;
  /** The last message id, sent as Last-Event-ID when reconnecting. */
  lastEventId?: () => string | undefined;
}

/** An open stream; close() stops it for good. */
export interface EventStream {
  close(): void;
  /** Drops the connection and opens a fresh one at once (e.g. after a gap). */
  reconnect(): void;
}

const minDelayMs = 500;
const maxDelayMs = 15_000;

export function openEventStream(url: string, options: EventStreamOptions): EventStream {
  let closed = false;
  let controller: AbortController | undefined;
  let delayMs = minDelayMs;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const schedule = (ms: number) => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), ms);
  };

  const connect = async (): Promise<void> => {
    controller?.abort();
    const current = new AbortController();
    controller = current;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const token = session.get()?.token;
    if (options.authenticated && token) headers.authorization = `Bearer ${token}`;
    const last = options.lastEventId?.();
    if (last !== undefined) headers['last-event-id'] = last;
    try {
      const response = await fetch(url, { headers, signal: current.signal, cache: 'no-store' });
      const type = response.headers.get('content-type') ?? '';
      if (!response.ok || !type.startsWith('text/event-stream') || response.body === null) {
        const retry = options.onRefused?.(response) ?? false;
        if (retry) schedule(delayMs = Math.min(maxDelayMs, delayMs * 2));
        return;
      }
      delayMs = minDelayMs;
      options.onOpen?.();
      const parser = createParser({ onEvent: (message) => options.onMessage(message) });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      // The server ended the stream (lifetime cap, deploy): come back soon.
      schedule(minDelayMs);
    } catch {
      if (current.signal.aborted) return;
      options.onDown?.();
      schedule(delayMs = Math.min(maxDelayMs, delayMs * 2));
    }
  };

  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
    reconnect() {
      clearTimeout(timer);
      void connect();
    },
  };
}
