/** Prometheus metrics: per-route request counts and latency, plus process defaults. */
import type {
  FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { passwordHashesInFlight } from '../../customers/passwords.js';
import { secretsEqual } from '../../customers/tokens.js';
import { failedRefunds, mismatchedPaymentEvents } from '../../orders/followup.js';
import { reconcileStuck } from '../../orders/reconcile.js';
import { appendHook } from '../hooks.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics registry (one per app, so tests can build several). */
    metrics: Registry;
    /**
     * Counts a reply given before routing (Fastify's `frameworkErrors`: a URL that cannot
     * be decoded, a path parameter past the router's cap), which runs no hook at all, under
     * route "unmatched" once it is sent.
     */
    countUnrouted(request: FastifyRequest, reply: FastifyReply): void;
    /** Counts a 503 Fastify gave on its own while the node was closing (see app.ts). */
    countClosingRefusal(): void;
  }
}

/** Why Node or Fastify answered a connection without a request any route saw. */
type RefusalReason = 'malformed' | 'timeout' | 'header_overflow' | 'closing';

/**
 * The status Fastify's default client-error handler answers for a socket error (400, 408 or
 * 431), or undefined when it answers nothing (the peer is gone). Mirrors fastify.js
 * `defaultClientErrorHandler`, which the app keeps.
 */
export function clientErrorReply(
  code: string | undefined, socketDestroyed: boolean,
): { status: string; reason: RefusalReason } | undefined {
  if (code === 'ECONNRESET' || socketDestroyed) return undefined;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: '408', reason: 'timeout' };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: '431', reason: 'header_overflow' };
  return { status: '400', reason: 'malformed' };
}

/** The route label of every request no route answered: one series, never the raw URL. */
export const unmatchedRoute = 'unmatched';

/** Options of the metrics plugin: the context its domain gauges read. */
export interface MetricsOptions {
  ctx: AppContext;
}

/** Registers request metrics and GET /metrics (exposed as METRICS_ACCESS says). */
export const metricsPlugin = fp(async (app: FastifyInstance, { ctx }: MetricsOptions) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const latency = new Histogram({
    name: 'stampede_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  // Every request is one observation of the histogram, so the request count per route and
  // status is its `_count`: read from it at scrape time instead of a second labelled update
  // (and label hash) on every request.
  new Counter({
    name: 'stampede_http_requests_total', help: 'HTTP requests by route and status',
    labelNames, registers: [registry],
    async collect() {
      const { values } = await latency.get();
      this.reset();
      for (const { metricName, labels, value } of values) {
        if (metricName === 'stampede_http_request_duration_seconds_count') this.inc(labels, value);
      }
    },
  });
  new Gauge({
    name: 'stampede_password_hashes_in_flight',
    help: 'Password hashes (scrypt) running now; bounded per process',
    registers: [registry],
    collect() {
      this.set(passwordHashesInFlight());
    },
  });
  new Gauge({
    name: 'stampede_reconcile_stuck',
    help: 'Pending payments and requested refunds still unsettled after many attempts',
    labelNames: ['kind'], registers: [registry],
    async collect() {
      try {
        const stuck = await reconcileStuck(ctx.db);
        this.set({ kind: 'payment' }, stuck.payments);
        this.set({ kind: 'refund' }, stuck.refunds);
      } catch {
        // The database is down: readiness says so; this gauge keeps its last value.
      }
    },
  });
  new Gauge({
    name: 'stampede_refunds_failed',
    help: 'Refunds the payment provider failed or canceled: buyers not paid back (act on it)',
    registers: [registry],
    async collect() {
      try {
        this.set(await failedRefunds(ctx.db));
      } catch {
        // The database is down: readiness says so; this gauge keeps its last value.
      }
    },
  });
  new Gauge({
    name: 'stampede_payment_event_mismatches',
    help: 'Signed payment webhooks in the last day whose intent, amount or currency did not '
      + 'match the stored payment (ignored; investigate)',
    registers: [registry],
    async collect() {
      try {
        this.set(await mismatchedPaymentEvents(ctx.db));
      } catch {
        // As above.
      }
    },
  });
  // Answered on the socket before any request object exists (malformed HTTP, headers past
  // Node's cap, a request slower than requestTimeout), or by Fastify's router while the node
  // closes: no hook runs for either, so they are counted here, by status and reason only.
  const refused = new Counter({
    name: 'stampede_http_refused_total',
    help: 'Answers given before any route ran: malformed HTTP (400), a request too slow to '
      + 'arrive (408), headers too large (431), a request arriving while the node closes (503)',
    labelNames: ['status', 'reason'] as const, registers: [registry],
  });
  // Before Fastify's own listener, which destroys the socket once it has answered.
  app.server.prependListener('clientError', (error: NodeJS.ErrnoException, socket) => {
    const reply = clientErrorReply(error.code, socket.destroyed);
    if (reply !== undefined) refused.inc(reply);
  });
  app.decorate('countClosingRefusal', () => refused.inc({ status: '503', reason: 'closing' }));
  app.decorate('metrics', registry);
  const observe = (
    route: string, request: FastifyRequest, reply: FastifyReply, elapsedMs = reply.elapsedTime,
  ): void => {
    latency.observe(
      { method: request.method, route, status: String(reply.statusCode) }, elapsedMs / 1000,
    );
  };
  app.decorate('countUnrouted', (request: FastifyRequest, reply: FastifyReply): void => {
    // Such a reply has no start time of Fastify's (its elapsedTime reads 0): time it here.
    const startedMs = performance.now();
    reply.raw.once('finish', () =>
      observe(unmatchedRoute, request, reply, performance.now() - startedMs));
  });
  // The route pattern, not the URL, keeps label cardinality bounded. Each route gets its own
  // onResponse hook with its pattern bound (no per-request `routeOptions` object); routes
  // are added after this plugin, so every one of them passes here.
  app.addHook('onRoute', (route) => {
    const pattern = route.url;
    const record: onResponseHookHandler = (request, reply, done) => {
      observe(pattern, request, reply);
      done();
    };
    route.onResponse = appendHook(route.onResponse, record);
  });
  // Not-found answers (any method on any path no route has) run no route's hooks, only the
  // app's. Replies given before routing run neither: `countUnrouted` counts those.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) observe(unmatchedRoute, request, reply);
    done();
  });
  const { metricsAccess, metricsToken } = ctx.config.http;
  if (metricsAccess === 'off') return;
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (metricsAccess === 'token') {
      const given = /^Bearer (.{1,1000})$/.exec(request.headers.authorization ?? '')?.[1];
      if (given === undefined || !secretsEqual(given, metricsToken ?? '')) {
        throw new DomainError('unauthorized', 'the metrics token is required');
      }
    }
    reply.type(registry.contentType);
    return await registry.metrics();
  });
});
