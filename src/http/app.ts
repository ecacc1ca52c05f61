/**
 * Builds the Fastify application as a plugin tree over an AppContext. It never listens:
 * server.ts owns the port, so tests build the app and call it through inject or a port.
 */
import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type onResponseHookHandler,
} from 'fastify';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { openRedis } from '../coord/connect.js';
import { DomainError } from '../core/errors.js';
import { registerDomainMetrics } from '../stats/metrics.js';
import { errorsPlugin, handleError } from './plugins/errors.js';
import { appendHook } from './hooks.js';
import { holdLatencyPlugin, holdRoute } from './plugins/holdLatency.js';
import { metricsPlugin } from './plugins/metrics.js';
import { appWriteLimit } from './ratelimit.js';
import { requestLogger } from './requestLogger.js';
import { adminRoutes } from './routes/admin.js';
import { catalogRoutes } from './routes/catalog.js';
import { customerRoutes } from './routes/customers.js';
import { holdRoutes } from './routes/holds.js';
import { liveRoutes } from './routes/live.js';
import { orderRoutes } from './routes/orders.js';
import { paymentRoutes } from './routes/payments.js';
import { opsRoutes } from './routes/ops.js';
import { queueRoutes } from './routes/queue.js';
import { notificationRoutes } from './routes/notifications.js';
import { waitlistRoutes } from './routes/waitlist.js';
import type { App } from './types.js';
import { routeUpgrades } from './upgrades.js';
import { createValidatorCompiler } from './validation.js';
import { webRoutes } from './web.js';

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

async function registerDocs(app: App): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stampede API',
        version: '1.0.0',
        description: 'Ticketing for high-demand on-sales. Errors are application/problem+json.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * How a write route takes the app-wide per-address write budget: unset, in a hook of its
     * own before the route's other hooks run (after its onRequest ones); `'own'`, in the
     * route's own rate-limit hook together with its other buckets (ratelimit.ts
     * `writeRateLimit`); `'exempt'`, not at all (a route with a budget of its own).
     */
    writeLimit?: 'own' | 'exempt';
  }
}

/**
 * Rate limits: the app-wide per-address write budget on the coordinator's buckets
 * (ratelimit.ts), added to every write route; `@fastify/rate-limit` for the routes that
 * ask for a budget of their own (public reads, payment webhooks).
 */
async function registerRateLimit(app: App, ctx: AppContext): Promise<void> {
  const writes = appWriteLimit(ctx);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((method) => readMethods.has(method))) return;
    if (route.config?.writeLimit !== undefined) return;
    // After the route's own onRequest hooks (auth), as the write limit always ran.
    const hooks = route.onRequest;
    route.onRequest = hooks === undefined ? [writes]
      : Array.isArray(hooks) ? [...hooks, writes] : [hooks, writes];
  });
  const redis = ctx.config.redis === undefined
    ? undefined
    : openRedis(ctx.config.redis, {
      connectTimeout: 2_000, maxRetriesPerRequest: 1, enableOfflineQueue: false,
    });
  if (redis !== undefined) {
    redis.on('error', (error) => ctx.logger.warn({ err: error }, 'rate-limit redis error'));
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
  }
  await app.register(rateLimit, {
    global: false,
    max: ctx.config.http.writesPerIpPerMinute,
    timeWindow: 60_000,
    ...(redis === undefined ? {} : { redis, nameSpace: 'stampede:rl:' }),
    // A down Redis must not turn into refused purchases: limits fail open.
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new DomainError('rate_limited', `rate limit exceeded, retry in ${context.after}`, {
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });
}

/**
 * Fastify answers a request arriving while the node closes with a 503 of its own
 * (`return503OnClosing`) and runs no hook for it, only this controller's log line: count it
 * there too, so a shutdown that refuses requests shows in the metrics.
 */
class ClosingCountingLogController extends LogController {
  override serviceUnavailable(logger: FastifyBaseLogger, server: FastifyInstance): void {
    server.countClosingRefusal();
    super.serviceUnavailable(logger, server);
  }
}

/** Builds the HTTP application for a context. */
export async function buildApp(ctx: AppContext): Promise<App> {
  const app = Fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    bodyLimit: limits.bodyBytes,
    requestTimeout: ctx.config.http.requestTimeoutMs,
    trustProxy: (_address: string, hop: number) => hop < ctx.config.http.trustProxy,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: 'x-request-id',
    // Per-request lines only when asked for and when the logger would write them at all (a
    // quieter level drops them after Fastify has built them, twice per request).
    logController: new ClosingCountingLogController({
      disableRequestLogging: !ctx.config.http.logRequests || !ctx.logger.isLevelEnabled('info'),
    }),
    genReqId: () => randomUUID(),
    // Binds the request id like Fastify's default, making the pino child only when needed.
    childLoggerFactory: requestLogger,
    return503OnClosing: true,
    // Answered before routing, so no hook counts it: the metrics plugin does, once sent.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      request.server.countUnrouted(request, reply);
      return handleError(error, request, reply);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(createValidatorCompiler());
  app.decorateRequest('customerId', '');
  await app.register(errorsPlugin);
  // Set as the request arrives, in a callback hook: every route already runs onRequest hooks,
  // while an onSend hook made each reply run a hook runner of its own for this one header.
  // The replies that skip the hooks (a URL the router refused) set it in frameworkErrors.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // Before the routes (docs included): its per-route hooks are added as routes are.
  await app.register(metricsPlugin, { ctx });
  await registerDocs(app);
  const domainMetrics = registerDomainMetrics(app.metrics, ctx);
  app.addHook('onClose', async () => domainMetrics.close());
  const holdOutcome: onResponseHookHandler = (_request, reply, done) => {
    domainMetrics.holdOutcome(reply.statusCode);
    done();
  };
  app.addHook('onRoute', (route) => {
    if (route.method !== 'POST' || route.url !== holdRoute) return;
    route.onResponse = appendHook(route.onResponse, holdOutcome);
  });
  await app.register(holdLatencyPlugin(ctx));
  await registerRateLimit(app, ctx);
  const { upgrades, stop } = routeUpgrades(app.server);
  app.addHook('onClose', async () => stop());
  await app.register(async (scope) => {
    await opsRoutes(scope, ctx);
    await customerRoutes(scope, ctx);
    await scope.register(async (compressed) => {
      // Only here: the plugin adds a hook to every route in its scope, and only catalog
      // routes (large JSON such as seat maps) opt in; streams like SSE must never be buffered.
      await compressed.register(compress,
        { global: false, encodings: ['gzip', 'deflate'], threshold: 2048 });
      await catalogRoutes(compressed, ctx);
    });
    await holdRoutes(scope, ctx);
    await orderRoutes(scope, ctx);
    await paymentRoutes(scope, ctx);
    await queueRoutes(scope, ctx);
    await scope.register(async (live) => {
      // Only here: the plugin hooks and wraps every route of its scope (upgrades.ts).
      await live.register(websocket, {
        options: { maxPayload: limits.liveClientMessageBytes, server: upgrades },
      });
      await liveRoutes(live, ctx);
    });
    await adminRoutes(scope, ctx);
    await waitlistRoutes(scope, ctx);
    await notificationRoutes(scope, ctx);
  });
  await app.register(async (scope) => webRoutes(scope, ctx));
  return app;
}
