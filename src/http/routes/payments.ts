/**
 * Payment provider webhooks. Signatures are computed over the exact bytes sent, so this
 * route reads the body raw (a Buffer, in its own encapsulated scope; JSON parsing happens
 * after verification) and verifies before anything else happens.
 */
import { Type } from 'typebox';
import { limits } from '../../config/limits.js';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { applyProviderEvent } from '../../orders/settle.js';
import { bookingDeps } from '../../orders/workers.js';
import { paymentsFor } from '../../payments/index.js';
import { WebhookRejected } from '../../payments/types.js';
import { problemResponses } from '../problem.js';
import type { App } from '../types.js';

const ProviderParams = Type.Object({ provider: Type.String({ maxLength: 40 }) });
const Received = Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() });

/** POST /api/v1/payments/webhooks/:provider. */
export async function paymentRoutes(app: App, ctx: AppContext): Promise<void> {
  await app.register(async (scope: App) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json', { parseAs: 'buffer', bodyLimit: limits.webhookBodyBytes },
      (_request, body, done) => done(null, body),
    );
    scope.post(
      '/api/v1/payments/webhooks/:provider',
      {
        // Every content type, not only JSON's parser: the app-wide parsers would read up to
        // 1 MiB of an unsigned body before the handler refuses it.
        bodyLimit: limits.webhookBodyBytes,
        // Signature-gated, and a big sale sends thousands from a few provider addresses:
        // exempt from the per-address write limit, with a generous budget of its own.
        config: {
          writeLimit: 'exempt',
          rateLimit: {
            max: ctx.config.http.webhooksPerIpPerMinute, timeWindow: 60_000, groupId: 'webhooks',
          },
        },
        schema: {
          tags: ['payments'], summary: 'Payment provider webhook (signature-verified)',
          params: ProviderParams,
          response: { 200: Received, ...problemResponses(400, 404, 413, 429) },
        },
      },
      async (request) => {
        const provider = paymentsFor(ctx);
        if (request.params.provider !== provider.name) {
          throw new DomainError('not_found', `no payment provider ${request.params.provider}`);
        }
        const raw = request.body;
        if (!Buffer.isBuffer(raw)) throw new DomainError('invalid_signature', 'no body');
        let event;
        try {
          event = provider.verifyWebhook(raw, request.headers, ctx.clock.nowMs());
        } catch (error) {
          if (error instanceof WebhookRejected) {
            throw new DomainError('invalid_signature', error.message);
          }
          throw error;
        }
        const result = await applyProviderEvent(bookingDeps(ctx), event);
        return { received: true, duplicate: result.duplicate };
      },
    );
  });
}
