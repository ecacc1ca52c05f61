/** Prometheus metrics: per-route request counts and latency, plus process defaults. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { passwordHashesInFlight } from '../../customers/passwords.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics registry (one per app, so tests can build several). */
    metrics: Registry;
  }
}

/** Registers request metrics and GET /metrics. */
export const metricsPlugin = fp(async (app: FastifyInstance) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'stampede_http_requests_total', help: 'HTTP requests by route and status',
    labelNames, registers: [registry],
  });
  const latency = new Histogram({
    name: 'stampede_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  new Gauge({
    name: 'stampede_password_hashes_in_flight',
    help: 'Password hashes (scrypt) running now; bounded per process',
    registers: [registry],
    collect() {
      this.set(passwordHashesInFlight());
    },
  });
  app.decorate('metrics', registry);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    latency.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return await registry.metrics();
  });
});
