/** Liveness and readiness for load balancers and orchestrators. */
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import type { App } from '../types.js';

const Health = Type.Object({ status: Type.String() });
const Ready = Type.Object({
  status: Type.String(),
  database: Type.String(),
  coordination: Type.String(),
});

async function check(probe: () => Promise<void>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([probe().then(() => 'ok', () => 'down'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz (the process answers) and GET /readyz (database and coordination answer). */
export async function opsRoutes(app: App, ctx: AppContext): Promise<void> {
  app.get('/healthz', { schema: { tags: ['ops'], response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { tags: ['ops'], response: { 200: Ready, 503: Ready } } },
    async (_request, reply) => {
      const [database, coordination] = await Promise.all([
        check(() => ctx.db.ping(), 2_000),
        check(() => ctx.coord.ping(), 2_000),
      ]);
      const ok = database === 'ok' && coordination === 'ok';
      return reply.status(ok ? 200 : 503).send({
        status: ok ? 'ready' : 'not_ready', database, coordination,
      });
    },
  );
}
