/**
 * The composition root's product: everything a role needs, built once per process from the
 * configuration. Tests build one with in-memory parts and a manual clock.
 */
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { Secrets } from './config/secrets.js';
import type { Clock } from './core/clock.js';
import type { KeyspaceClaim } from './coord/keyspaceClaim.js';
import type { LoadSignal } from './core/pressure.js';
import type { Coordinator, LeaseStore } from './coord/types.js';
import type { HoldBatchGate } from './holds/batch.js';
import type { HoldQueueLoad } from './holds/busy.js';
import type { Guard } from './holds/claim.js';
import type { ZoneViewSeam } from './inventory/zoneView.js';
import type { CheckoutSeams } from './orders/settle.js';
import type { CheckoutGuard } from './orders/checkoutBatch.js';
import type { SettleGuard } from './orders/settleBatch.js';
import type { OfferGuard } from './waitlist/offers.js';
import type { CustomerTokens } from './customers/tokens.js';
import type { Db } from './storage/index.js';

export interface AppContext {
  config: Config;
  db: Db;
  /**
   * A streaming standby for reads that decide nothing (DATABASE_READ_URL); unset: `db`.
   * Use it through `displayRead` (storage/replica.ts), never for a decision.
   */
  readDb?: Db;
  coord: Coordinator;
  /** This deployment's claim on its Redis key prefix (coord/keyspaceClaim.ts); Redis only. */
  keyspaceClaim?: KeyspaceClaim;
  /**
   * Where singleton duties take their leases; unset: `coord`. A server with Redis uses
   * Redis with a PostgreSQL fallback (coord/pgLease.ts), so a Redis outage does not stop
   * admissions, sweeps, reconciliation or the outbox relay.
   */
  leases?: LeaseStore;
  clock: Clock;
  secrets: Secrets;
  tokens: CustomerTokens;
  logger: Logger;
  /**
   * Test seam: one production guard removed, of hold creation (holds/claim.ts `Guard`), of
   * checkout's first statement (orders/checkoutBatch.ts `CheckoutGuard`), of the settle
   * batch (orders/settleBatch.ts `SettleGuard`) or of waitlist offers
   * (waitlist/offers.ts `OfferGuard`), so a race test's control can show the violation the
   * guard prevents. The composition root never sets it.
   */
  unguarded?: Guard | CheckoutGuard | SettleGuard | OfferGuard;
  /** Test seams, each of its own flow. Never set in production. */
  seams?: TestSeams;
}

/** The test seams a context may carry. */
export interface TestSeams extends CheckoutSeams {
  /** Holds hold batches back until a race's contenders have queued (holds/batch.ts). */
  holdBatches?: HoldBatchGate;
  /** How best available's zone views age, and what their picks lost (inventory/zoneView.ts). */
  zoneViews?: ZoneViewSeam;
  /** Awaited by unguarded offers between reading the line and offering (waitlist/offers.ts). */
  offerLineRead?: () => Promise<void>;
  /** Says when the node is overloaded, in place of the event loop's delay (http/shed.ts). */
  pressure?: LoadSignal;
  /** The hold queue's load, in place of the batcher's own (holds/busy.ts). */
  holdQueueLoad?: HoldQueueLoad;
}
