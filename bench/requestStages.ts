/**
 * Server-side stages of each HTTP request, for the profile scripts: socket parsed
 * (http.server.request.start), handler start and end (Fastify's tracing channel: after the
 * onRequest and preHandler hooks — auth, rate limits, validation), response finished.
 * Counted only while `measuring()` is true. Subscribes for the life of the process.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

/** Summed stage times in ms over `n` requests. */
export interface RequestStages {
  n: number; pre: number; handler: number; post: number; total: number;
}

interface Stamps { start: number; handler?: number; handled?: number }

/** Starts stamping requests; returns the running sums. */
export function watchRequestStages(measuring: () => boolean): RequestStages {
  const stamps = new WeakMap<IncomingMessage, Stamps>();
  const stage: RequestStages = { n: 0, pre: 0, handler: 0, post: 0, total: 0 };
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { request } = message as { request: IncomingMessage };
    stamps.set(request, { start: performance.now() });
  });
  const rawOf = (m: unknown): IncomingMessage =>
    (m as { request: { raw: IncomingMessage } }).request.raw;
  diagnostics.tracingChannel('fastify.request.handler').subscribe({
    start(m) {
      const s = stamps.get(rawOf(m));
      if (s) s.handler = performance.now();
    },
    asyncStart(m) {
      const s = stamps.get(rawOf(m));
      if (s) s.handled = performance.now();
    },
    end() {}, asyncEnd() {}, error() {},
  });
  diagnostics.subscribe('http.server.response.finish', (message) => {
    const { request } = message as { request: IncomingMessage };
    const s = stamps.get(request);
    if (!measuring() || s?.handler === undefined || s.handled === undefined) return;
    const now = performance.now();
    stage.n++; stage.pre += s.handler - s.start; stage.handler += s.handled - s.handler;
    stage.post += now - s.handled; stage.total += now - s.start;
  });
  return stage;
}
