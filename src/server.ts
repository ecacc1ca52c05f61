/**
 * Owns the listening socket: starts the app on the configured port and shuts down
 * gracefully (stop accepting, finish in-flight requests, close the database) on signals.
 */
import closeWithGrace from 'close-with-grace';
import { shutdown } from './boot.js';
import type { AppContext } from './context.js';
import { buildApp } from './http/app.js';
import type { App } from './http/types.js';
import { startWorker } from './roles/worker.js';

/** Listens on config.host:config.port; resolves with the running app and its URL. */
export async function startServer(ctx: AppContext): Promise<{ app: App; url: string }> {
  const app = await buildApp(ctx);
  const worker = ctx.config.roles.has('worker') ? await startWorker(ctx) : undefined;
  app.addHook('onClose', async () => {
    await worker?.stop();
    await shutdown(ctx);
  });
  const address = await app.listen({ port: ctx.config.port, host: ctx.config.host });
  // Keep-alive longer than typical load balancer idle timeouts avoids racing resets.
  app.server.keepAliveTimeout = 65_000;
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) ctx.logger.error({ err }, 'shutting down after an error');
    else ctx.logger.info({ signal }, 'shutting down');
    await app.close();
  });
  const port = new URL(address).port;
  const shownHost = ['0.0.0.0', '::', '127.0.0.1'].includes(ctx.config.host)
    ? 'localhost'
    : ctx.config.host;
  return { app, url: `http://${shownHost}:${port}` };
}
