/**
 * Customer token versions: "log out everywhere" bumps the customer's version, and every
 * token issued before carries an older one and is refused. Versions are cached per node
 * (bounded, oldest read dropped first, for `limits.tokenVersionCacheMs` at most) so
 * an authenticated request costs no query. A revocation updates the revoking node's cache
 * at once and is published on the coordination channel, so every other node updates its
 * own as soon as the message arrives; a lost message is bounded by the cache's lifetime.
 * Misses are read together: while one read is in flight, the customers missed meanwhile
 * wait for the next, which reads them all in one statement (at most
 * `limits.tokenVersionReadBatch`), so a burst of new customers costs a few queries, not one
 * each (on embedded PGlite every query takes the one connection and the event loop).
 *
 * A route whose domain decision reads the database anyway may leave the check of a missed
 * customer to that decision (hold requests: the hold batch compares the token's version,
 * migration 028) and tell the cache what it found (`learn`).
 */
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import type { Clock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import type { Coordinator, CoordLogger, Unsubscribe } from '../coord/index.js';
import type { Queryable } from '../storage/index.js';

interface Entry {
  version: number;
  readAtMs: number;
}

interface Revocation {
  customerId: string;
  version: number;
}

/** The coordination channel revocations travel on between nodes. */
export function revocationChannel(coord: Coordinator): string {
  return coord.keys.global('token-revoked');
}

function parseRevocation(raw: string): Revocation | undefined {
  try {
    const value = JSON.parse(raw) as Partial<Revocation> | null;
    if (typeof value?.customerId !== 'string' || !Number.isSafeInteger(value.version)) {
      return undefined;
    }
    return { customerId: value.customerId, version: value.version as number };
  } catch {
    return undefined;
  }
}

/** A customer token older than the customer's current version: 401, log in again. */
export class TokenRevoked extends DomainError {
  /** `currentVersion`: the customer's version, when the refusal read it. */
  constructor(readonly currentVersion?: number) {
    super('unauthorized', 'this token was revoked; log in again');
  }
}

/**
 * A requester's token version the auth hook left unchecked (`customerAuth` with
 * `deferVersion`): the domain decision compares it with the customer's current version in
 * the statement that decides (the hold batch, the queue's join batch) and sets `checked`;
 * a refusal decided before that compares it first (`checkPending`).
 */
export interface TokenCheck {
  version: number;
  checked: boolean;
}

/** Per-context singletons: one token-version cache per app. */
const versionCaches = new WeakMap<AppContext, TokenVersions>();

/** The context's customer token versions, cached per node, told of revocations. */
export function tokenVersions(ctx: AppContext): TokenVersions {
  let versions = versionCaches.get(ctx);
  if (versions === undefined) {
    versions = new TokenVersions(ctx.db, ctx.clock, { coord: ctx.coord, logger: ctx.logger });
    versionCaches.set(ctx, versions);
  }
  return versions;
}

/** What a TokenVersions tells its peers with, and where it reports trouble. */
export interface TokenVersionPeers {
  coord: Coordinator;
  logger: CoordLogger;
}

interface Waiting {
  resolve: (version: number) => void;
  reject: (error: unknown) => void;
}

/** A bounded, short-lived cache of customers' token versions over the database. */
export class TokenVersions {
  private readonly entries = new Map<string, Entry>();
  /** Customers missed and not yet read, with everyone waiting for each. */
  private missed = new Map<string, Waiting[]>();
  private reading = false;
  private readonly subscribed: Promise<Unsubscribe | undefined>;

  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
    private readonly peers?: TokenVersionPeers,
  ) {
    this.subscribed = peers === undefined
      ? Promise.resolve(undefined)
      : peers.coord.subscribe(revocationChannel(peers.coord), (raw) => this.heard(raw))
        .catch((error: unknown) => {
          // Without the channel, other nodes' revocations reach us when the entry ages out.
          peers.logger.warn({ err: error }, 'token revocation channel unavailable');
          return undefined;
        });
  }

  /** Resolves once this node hears other nodes' revocations (or gave up trying). */
  async listening(): Promise<void> {
    await this.subscribed;
  }

  /** The customer's version from this node's memory, when read less than a lifetime ago. */
  cached(customerId: string): number | undefined {
    const entry = this.entries.get(customerId);
    if (entry === undefined || this.clock.nowMs() - entry.readAtMs >= limits.tokenVersionCacheMs) {
      return undefined;
    }
    return entry.version;
  }

  /**
   * Records a version read elsewhere (a hold batch) at `readAtMs` or later: the customer's
   * current one then, so a revocation heard meanwhile is never lowered (versions only grow).
   */
  learn(customerId: string, version: number, readAtMs: number): void {
    this.remember(customerId, version, readAtMs);
  }

  /** Throws TokenRevoked unless `version` is the customer's current one (cache first). */
  async assertCurrent(customerId: string, version: number): Promise<void> {
    const current = await this.current(customerId);
    if (version < current) throw new TokenRevoked();
  }

  /** Compares a still unchecked token now (cache first, else one read); TokenRevoked. */
  async checkPending(customerId: string, token: TokenCheck | undefined): Promise<void> {
    if (token === undefined || token.checked) return;
    await this.assertCurrent(customerId, token.version);
    token.checked = true;
  }

  /** The customer's current version (0 for an unknown customer: nothing to revoke). */
  async current(customerId: string): Promise<number> {
    const entry = this.entries.get(customerId);
    const nowMs = this.clock.nowMs();
    if (entry !== undefined && nowMs - entry.readAtMs < limits.tokenVersionCacheMs) {
      return entry.version;
    }
    return await new Promise<number>((resolve, reject) => {
      const waiting = this.missed.get(customerId);
      if (waiting === undefined) this.missed.set(customerId, [{ resolve, reject }]);
      else waiting.push({ resolve, reject });
      this.readMissed();
    });
  }

  /** Reads the missed customers' versions in one statement, unless a read is in flight. */
  private readMissed(): void {
    if (this.reading || this.missed.size === 0) return;
    this.reading = true;
    const batch = new Map<string, Waiting[]>();
    for (const [customerId, waiting] of this.missed) {
      if (batch.size >= limits.tokenVersionReadBatch) break;
      batch.set(customerId, waiting);
    }
    for (const customerId of batch.keys()) this.missed.delete(customerId);
    const readAtMs = this.clock.nowMs();
    this.db.query<{ customer_id: string; token_version: number }>(
      'SELECT customer_id, token_version FROM customers WHERE customer_id = ANY($1::uuid[])',
      [[...batch.keys()]],
    ).then(({ rows }) => {
      const found = new Map(rows.map((row) => [row.customer_id, row.token_version]));
      for (const [customerId, waiting] of batch) {
        const version = this.remember(customerId, found.get(customerId) ?? 0, readAtMs);
        for (const w of waiting) w.resolve(version);
      }
    }, (error: unknown) => {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(error);
    }).finally(() => {
      this.reading = false;
      this.readMissed();
    });
  }

  /** Revokes every token the customer holds, on every node; returns the new version. */
  async revokeAll(customerId: string): Promise<number> {
    const { rows } = await this.db.query<{ token_version: number }>(
      `UPDATE customers SET token_version = token_version + 1 WHERE customer_id = $1
       RETURNING token_version`, [customerId]);
    const version = this.remember(customerId, rows[0]?.token_version ?? 0, this.clock.nowMs());
    if (this.peers !== undefined) {
      const message = JSON.stringify({ customerId, version } satisfies Revocation);
      try {
        await this.peers.coord.publish(revocationChannel(this.peers.coord), message);
      } catch (error) {
        // The revocation is committed; other nodes honour it once their entry ages out.
        this.peers.logger.warn({ err: error }, 'token revocation not published');
      }
    }
    return version;
  }

  /** Stops listening to other nodes. */
  async close(): Promise<void> {
    const unsubscribe = await this.subscribed;
    await unsubscribe?.();
  }

  private heard(raw: string): void {
    const revocation = parseRevocation(raw);
    if (revocation === undefined) return;
    // Recorded even when not cached: a read in flight may otherwise store the old version.
    this.remember(revocation.customerId, revocation.version, this.clock.nowMs());
  }

  /**
   * Stores the version and returns the one now cached. Versions only grow, so a read that
   * started before a revocation arrived never lowers what the revocation stored.
   */
  private remember(customerId: string, version: number, nowMs: number): number {
    const known = this.entries.get(customerId);
    const kept = Math.max(version, known?.version ?? version);
    this.entries.delete(customerId);
    this.entries.set(customerId, { version: kept, readAtMs: nowMs });
    // Insertion order: the first key is the entry read longest ago.
    while (this.entries.size > limits.tokenVersionCacheEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return kept;
  }
}
