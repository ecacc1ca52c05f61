/**
 * Real clients of the live seat-map feed for tests and benchmarks: an SSE client over a
 * plain HTTP request (so a test can pause its socket) and a WebSocket client (`ws`). Both
 * record every message with its arrival time and track the feed version the way a browser
 * would: a snapshot sets it, a step whose prevVersion is not the current version is a gap.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';

/** One received message. */
export interface ReceivedMessage {
  type: string;
  data: Record<string, unknown>;
  id: string | undefined;
  atMs: number;
}

type Listener = () => void;

/** What both clients share: the log, waiting on it, version tracking. */
abstract class TestClientBase {
  readonly messages: ReceivedMessage[] = [];
  /** The feed version as a client tracks it; -1 before the first snapshot. */
  version = -1;
  /** Steps whose prevVersion did not match (a client would re-fetch a snapshot). */
  gaps = 0;
  closed = false;
  private readonly listeners = new Set<Listener>();

  protected record(type: string, data: Record<string, unknown>, id: string | undefined): void {
    this.messages.push({ type, data, id, atMs: Date.now() });
    const version = Number(data.version);
    if (type === 'snapshot') this.version = version;
    if (type === 'seats') {
      if (version > this.version) {
        if (Number(data.prevVersion) !== this.version) this.gaps += 1;
        this.version = version;
      }
    }
    this.notify();
  }

  protected notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves with the first message (from `fromIndex`) matching, or rejects on timeout. */
  async waitFor(
    match: (message: ReceivedMessage) => boolean, timeoutMs = 10_000, fromIndex = 0,
  ): Promise<ReceivedMessage> {
    return await new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.messages.slice(fromIndex).find(match);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching live message within ${timeoutMs} ms ` +
          `(got ${this.messages.map((m) => `${m.type}@${String(m.data.version)}`).join(', ')})`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (): void => {
        check();
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  /** Resolves once the server has closed the stream. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('stream still open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The seat statuses changed by `seats` messages, last one winning. */
  seatStatus(seatId: string): string | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const message = this.messages[i] as ReceivedMessage;
      if (message.type !== 'seats') continue;
      const changes = message.data.changes as { seatId: string; status: string }[];
      const change = changes.find((c) => c.seatId === seatId);
      if (change !== undefined) return change.status;
    }
    return undefined;
  }

  protected markClosed(): void {
    this.closed = true;
    this.notify();
  }

  abstract close(): void;
}

/** An SSE client. */
export class SseTestClient extends TestClientBase {
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  response: IncomingMessage | undefined;
  private buffer = '';
  private request: ClientRequest | undefined;

  /** Opens the stream; resolves once the response headers are in. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
    const client = new SseTestClient();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } },
        (res) => {
          client.response = res;
          client.status = res.statusCode ?? 0;
          client.headers = res.headers;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => client.onChunk(chunk));
          res.on('close', () => client.markClosed());
          res.on('error', () => client.markClosed());
          resolve();
        });
      req.on('error', (error) => {
        client.markClosed();
        reject(error);
      });
      req.end();
      client.request = req;
    });
    return client;
  }

  private onChunk(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.onBlock(block);
      end = this.buffer.indexOf('\n\n');
    }
  }

  private onBlock(block: string): void {
    let type: string | undefined;
    let id: string | undefined;
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (type === undefined || data === '') return;
    this.record(type, JSON.parse(data) as Record<string, unknown>, id);
  }

  /** Stops reading (the server's writes pile up in the socket buffers, then in its own). */
  pause(): void {
    this.response?.socket.pause();
    this.response?.pause();
  }

  close(): void {
    this.request?.destroy();
  }
}

/** A WebSocket client. */
export class WsTestClient extends TestClientBase {
  private constructor(readonly socket: WebSocket) {
    super();
  }

  /** Connects; rejects with the HTTP status when the upgrade is refused. */
  static async open(url: string): Promise<WsTestClient> {
    const socket = new WebSocket(url);
    const client = new WsTestClient(socket);
    socket.on('message', (raw: WebSocket.RawData) => {
      const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
      const { type, ...data } = JSON.parse(text) as { type: string };
      client.record(type, data, undefined);
    });
    socket.on('close', () => client.markClosed());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => reject(new RefusedUpgrade(res.statusCode ?? 0, body)));
      });
      socket.once('error', reject);
    });
    return client;
  }

  /** Asks the server for a fresh snapshot. */
  requestSnapshot(): void {
    this.socket.send(JSON.stringify({ type: 'snapshot' }));
  }

  close(): void {
    this.socket.terminate();
  }
}

/** A WebSocket upgrade answered with an HTTP error. */
export class RefusedUpgrade extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`upgrade refused with ${status}`);
  }
}
