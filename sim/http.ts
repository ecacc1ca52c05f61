/**
 * The simulator's HTTP side: keep-alive connection pools shared by the simulated customers
 * (customers are data; sockets are shared), JSON requests timed per step, and a minimal
 * Server-Sent Events reader.
 *
 * Two lanes: the crowd (joins, waitlist moves, setup) and the shoppers (everything a fan
 * with a pass does). Every real fan has a connection of their own, so a shopper's request
 * never waits behind a million joins on the fan's side of the wire; with one shared pool
 * it did (a hold took 5.7 s at the client against 0.6 s in the server), and the simulator,
 * not the server, set the sale's pace. The server decides who waits. The shoppers' lane may
 * go to another node of the deployment, as a balancer that routes the store apart from the
 * waiting room sends it (`--shop-url`).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { Recorder } from './metrics.js';

export interface JsonReply {
  status: number;
  // Replies are untyped JSON from the server under test; callers check what they read.
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Sees every request's outcome (reply, or undefined when none came), e.g. so a fault
 * matrix can list what the server acknowledged and check each one in the database.
 */
export type ReplyObserver = (method: string, path: string, reply: JsonReply | undefined) => void;

/**
 * How long a refused request asks the client to wait before trying again: the Retry-After
 * (seconds) of a 429 or a 503, in ms; undefined for any other reply or without the header.
 */
export function retryAfterMs(reply: JsonReply): number | undefined {
  if (reply.status !== 429 && reply.status !== 503) return undefined;
  const raw = reply.headers['retry-after'];
  const seconds = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000
    : undefined;
}

/** Which pool a request goes through: the crowd's, or the shoppers' (see the file comment). */
export type Lane = 'crowd' | 'shop';

/** A JSON client over shared pools, recording each request's latency under a step name. */
export class SimClient {
  readonly pool: Pool;
  /** Requests of fans with a pass (holds, checkout, order polls), apart from the crowd. */
  readonly shop: Pool;
  /**
   * The observers' SSE streams, apart from `pool`: a stream keeps its connection for the
   * whole wait, and 200 of them in a 256-connection pool left the crowd's requests 56.
   */
  readonly streams: Pool;
  observer: ReplyObserver | undefined;

  constructor(
    readonly baseUrl: string, private readonly recorder: Recorder, connections = 256,
    streamConnections = 64, shopConnections = connections,
    /** Where the shoppers' lane goes: another node of the deployment, or the same one. */
    readonly shopUrl = baseUrl,
  ) {
    this.pool = new Pool(baseUrl, {
      connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    this.shop = new Pool(shopUrl, {
      connections: shopConnections, pipelining: 1, keepAliveTimeout: 30_000,
      headersTimeout: 60_000, bodyTimeout: 60_000,
    });
    this.streams = new Pool(baseUrl, {
      connections: streamConnections, pipelining: 1, keepAliveTimeout: 30_000,
      headersTimeout: 60_000, bodyTimeout: 60_000,
    });
  }

  /** Sends a request and records its latency under `step` (null: not recorded). */
  async json(
    step: string | null, method: 'GET' | 'POST' | 'DELETE', path: string,
    options: { body?: unknown; headers?: Record<string, string>; lane?: Lane } = {},
  ): Promise<JsonReply> {
    const started = performance.now();
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const pool = options.lane === 'shop' ? this.shop : this.pool;
      const response = await pool.request({
        method, path, headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await response.body.text();
      const reply: JsonReply = {
        status: response.statusCode,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
        headers: response.headers,
      };
      if (step !== null) this.recorder.latency(step, performance.now() - started, reply.status);
      this.observer?.(method, path, reply);
      return reply;
    } catch (error) {
      if (step !== null) this.recorder.latency(step, performance.now() - started, 0);
      this.observer?.(method, path, undefined);
      throw error;
    }
  }

  /**
   * A plain-text GET (a node's /metrics), not recorded as a step; null for any status
   * but 200 or no reply, so a node that keeps its metrics private gives no series.
   */
  async text(path: string, lane: Lane): Promise<string | null> {
    try {
      const pool = lane === 'shop' ? this.shop : this.pool;
      const response = await pool.request({ method: 'GET', path });
      const text = await response.body.text();
      return response.statusCode === 200 ? text : null;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.shop.close(), this.streams.close()]);
  }
}

/** One parsed SSE message. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Opens an SSE stream and calls `onMessage` per message until `signal` aborts or the server
 * closes it. Parses the wire format (id/event/data lines, blank-line terminated).
 */
export async function readSse(
  pool: Pool, path: string, headers: Record<string, string>, signal: AbortSignal,
  onMessage: (message: SseMessage) => void,
): Promise<void> {
  const response = await pool.request({
    method: 'GET', path, headers: { accept: 'text/event-stream', ...headers }, signal,
    bodyTimeout: 0, headersTimeout: 30_000,
  });
  if (response.statusCode !== 200) {
    await response.body.text().catch(() => '');
    throw new Error(`SSE ${path} answered ${response.statusCode}`);
  }
  let buffer = '';
  let current: SseMessage = { event: 'message', data: '' };
  let hasData = false;
  try {
    for await (const chunk of response.body) {
      buffer += (chunk as Buffer).toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (hasData) onMessage(current);
          current = { event: 'message', data: '' };
          hasData = false;
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') {
            current.data = hasData ? `${current.data}\n${value}` : value;
            hasData = true;
          } else if (field === 'event') current.event = value;
          else if (field === 'id') current.id = value;
        }
        newline = buffer.indexOf('\n');
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
