/** Feeds hold reply times into the shared latency histogram the on-sale dashboard reads. */
import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { AppContext } from '../../context.js';
import { isUuid } from '../../core/ids.js';
import { HoldLatencyRecorder } from '../../stats/latency.js';
import { appendHook } from '../hooks.js';

/** The route whose replies are recorded. */
export const holdRoute = '/api/v1/events/:eventId/holds';
const flushEveryMs = 1_000;

/** Records every POST hold reply (any status: a refusal is latency a fan saw too). */
export function holdLatencyPlugin(ctx: AppContext) {
  return fp(async (app: FastifyInstance) => {
    const recorder = new HoldLatencyRecorder(ctx.coord, ctx.clock);
    const record: onResponseHookHandler = (request, reply, done) => {
      const { eventId } = request.params as { eventId?: string };
      if (eventId !== undefined && isUuid(eventId)) recorder.record(eventId, reply.elapsedTime);
      done();
    };
    // On the hold route only: every other request skips it (registered before the routes).
    app.addHook('onRoute', (route) => {
      if (route.method !== 'POST' || route.url !== holdRoute) return;
      route.onResponse = appendHook(route.onResponse, record);
    });
    const timer = setInterval(() => void recorder.flush(), flushEveryMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await recorder.flush();
    });
  });
}
