/**
 * The payment provider of a running node: the one PAYMENT_PROVIDER names, built on first
 * use from the context's configuration. Tests install their own (a simulated gateway in
 * manual mode whose webhooks go through app.inject).
 */
import { createHmac } from 'node:crypto';
import type { AppContext } from '../context.js';
import { databaseLedger, httpDeliver, SimulatedGateway } from './simulated.js';
import { StripeProvider } from './stripe.js';
import type { PaymentProvider } from './types.js';

export type { PaymentProvider } from './types.js';

const providers = new WeakMap<AppContext, PaymentProvider>();

/** The simulated gateway's webhook secret, derived from the node secret (shared by nodes). */
export function simulatedWebhookSecret(secret: string): string {
  return createHmac('sha256', secret).update('simulated-gateway-webhooks').digest('hex');
}

function build(ctx: AppContext): PaymentProvider {
  const { config } = ctx;
  if (config.paymentProvider === 'stripe') {
    return new StripeProvider({
      secretKey: config.stripeSecretKey ?? '', webhookSecret: config.stripeWebhookSecret ?? '',
      apiUrl: config.stripe.apiUrl, timeoutMs: config.stripe.timeoutMs,
      maxNetworkRetries: config.stripe.maxNetworkRetries,
    });
  }
  return new SimulatedGateway({
    secret: simulatedWebhookSecret(ctx.secrets.secret),
    clock: ctx.clock,
    deliver: httpDeliver(config.publicUrl),
    ledger: databaseLedger(ctx.db),
  });
}

/** The context's payment provider. */
export function paymentsFor(ctx: AppContext): PaymentProvider {
  let provider = providers.get(ctx);
  if (provider === undefined) {
    provider = build(ctx);
    providers.set(ctx, provider);
  }
  return provider;
}

/** Replaces the context's payment provider (tests, benchmarks). */
export function installPayments(ctx: AppContext, provider: PaymentProvider): void {
  providers.set(ctx, provider);
}
