/**
 * One deployment per Redis key prefix. Every node of a deployment shares one database and
 * takes its identity from it (the `deployment` row); the nodes claim the prefix in Redis
 * under that identity and keep the claim alive while any of them runs. A node of another
 * deployment (another database) pointed at the same Redis and prefix would otherwise share
 * its leases, its rate limits and its pub/sub channels: its admission tick could wait behind
 * the other deployment's leader, and no error would say why. It refuses to start instead.
 */
import type { Coordinator } from './types.js';

/** The lease name the claim lives under (the keyspace puts the prefix in front of it). */
export const KEYSPACE_LEASE = 'keyspace-owner';

/** How long a claim outlives the last node of its deployment. */
export const KEYSPACE_CLAIM_TTL_MS = 60_000;

/** Raised at boot when another deployment holds the prefix. */
export class KeyspaceTakenError extends Error {
  constructor(readonly prefix: string) {
    super(`Redis key prefix "${prefix}" is in use by another deployment (another database); `
      + `set REDIS_KEY_PREFIX to a prefix of this deployment's own, or wait `
      + `${KEYSPACE_CLAIM_TTL_MS / 1000} s after the other deployment stopped`);
    this.name = 'KeyspaceTakenError';
  }
}

interface ClaimLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A held claim; `stop` ends the renewals (the claim then lapses after its TTL). */
export interface KeyspaceClaim {
  stop(): void;
}

/**
 * Claims the coordinator's prefix for `deploymentId`, then renews it every third of its TTL.
 * Rejects with KeyspaceTakenError when another deployment holds it. A renewal that fails
 * (Redis down) or finds the prefix taken (Redis lost our claim and another deployment
 * started meanwhile) is logged; the node keeps serving, because it cannot tell which
 * deployment is the careless one.
 */
export async function claimKeyspace(coord: Coordinator, deploymentId: string,
  logger: ClaimLogger, ttlMs = KEYSPACE_CLAIM_TTL_MS): Promise<KeyspaceClaim> {
  const take = () => coord.acquireLease(KEYSPACE_LEASE, deploymentId, ttlMs);
  if (await take() === null) throw new KeyspaceTakenError(coord.keys.prefix);
  const timer = setInterval(() => {
    take().then((token) => {
      if (token !== null) return;
      logger.error({ prefix: coord.keys.prefix },
        'another deployment claims this Redis key prefix: set REDIS_KEY_PREFIX on one of them');
    }, (error: unknown) => logger.warn({ err: error }, 'keyspace claim renewal failed'));
  }, Math.max(1, Math.floor(ttlMs / 3)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
