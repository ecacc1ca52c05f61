/** Feeds hold reply times into the shared latency histogram the on-sale dashboard reads. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppContext } from '../../context.js';
import { isUuid } from '../../core/ids.js';
import { HoldLatencyRecorder } from '../../stats/latency.js';

const holdRoute = '/api/v1/events/:eventId/holds';
const flushEveryMs = 1_000;

/** Records every POST hold reply (any status: a refusal is latency a fan saw too). */
export function holdLatencyPlugin(ctx: AppContext) {
  return fp(async (app: FastifyInstance) => {
    const recorder = new HoldLatencyRecorder(ctx.coord, ctx.clock);
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'POST' || request.routeOptions.url !== holdRoute) return;
      const { eventId } = request.params as { eventId?: string };
      if (eventId === undefined || !isUuid(eventId)) return;
      recorder.record(eventId, reply.elapsedTime);
    });
    const timer = setInterval(() => void recorder.flush(), flushEveryMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await recorder.flush();
    });
  });
}
