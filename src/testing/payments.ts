/**
 * A simulated gateway for tests: manual mode (webhooks queue until `flush()`), delivered
 * through app.inject to the real webhook route, signed with the context's real secret.
 */
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { installPayments, simulatedWebhookSecret } from '../payments/index.js';
import {
  databaseLedger, SimulatedGateway, type SimulatedGatewayOptions, type WebhookDelivery,
} from '../payments/simulated.js';

/** Posts a delivery to the app's simulated webhook route; returns the status code. */
export async function postWebhook(app: App, delivery: WebhookDelivery): Promise<number> {
  const response = await app.inject({
    method: 'POST', url: '/api/v1/payments/webhooks/simulated',
    headers: delivery.headers, payload: delivery.body,
  });
  return response.statusCode;
}

/** Installs a manual-mode gateway, its books in the context's database; returns it. */
export function installTestGateway(
  app: App, ctx: AppContext, options: Partial<SimulatedGatewayOptions> = {},
): SimulatedGateway {
  const gateway = new SimulatedGateway({
    secret: simulatedWebhookSecret(ctx.secrets.secret),
    clock: ctx.clock,
    deliver: async (delivery) => {
      await postWebhook(app, delivery);
    },
    manual: true,
    slowMs: 300,
    // The books live in the database, so a gateway installed later answers for earlier
    // charges, as a real provider would.
    ledger: databaseLedger(ctx.db),
    ...options,
  });
  installPayments(ctx, gateway);
  return gateway;
}
