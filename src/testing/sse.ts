/**
 * A small Server-Sent Events client for tests: opens a real HTTP stream with fetch and
 * yields parsed messages (comments skipped), each waited for with a deadline.
 */

/** One SSE message. */
export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads messages from an open `text/event-stream` response. */
export class SseClient {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  private constructor(readonly response: Response, private readonly abort: AbortController) {
    if (response.body === null) throw new Error('SSE response without a body');
    this.reader = response.body.getReader();
  }

  /** Opens a stream; `headers` carry the bearer token and any Last-Event-ID. */
  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    return new SseClient(response, abort);
  }

  /** The next message (not a comment), or an error after `timeoutMs`. */
  async next(timeoutMs: number): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.take();
      if (message !== undefined) return message;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no SSE message in time');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no SSE message in time')), left);
      });
      try {
        const { value, done } = await Promise.race([this.reader.read(), late]);
        if (done) throw new Error('SSE stream ended');
        this.buffer += this.decoder.decode(value, { stream: true });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The next message of one event type, skipping others. */
  async nextOf(event: string, timeoutMs: number): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (message.event === event) return message;
    }
  }

  close(): void {
    this.abort.abort();
  }

  /** Parses one buffered message if a whole one is there; comments are dropped. */
  private take(): SseEvent | undefined {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) return undefined;
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: SseEvent = {};
      for (const line of frame.split('\n')) {
        const match = /^(id|event|data): ?(.*)$/.exec(line);
        if (match !== null) message[match[1] as keyof SseEvent] = match[2] as string;
      }
      if (message.data !== undefined || message.event !== undefined) return message;
    }
  }
}
