/**
 * Customer token versions: "log out everywhere" bumps the customer's version, and every
 * token issued before carries an older one and is refused. Versions are cached per node for
 * a few seconds (the hold route checks a token on every request), so another node honours a
 * revocation within `limits.tokenVersionCacheMs`; the node that revoked, at once.
 */
import { limits } from '../config/limits.js';
import type { Clock } from '../core/clock.js';
import type { Queryable } from '../storage/index.js';

interface Entry {
  version: number;
  readAtMs: number;
}

/** A bounded, short-lived cache of customers' token versions over the database. */
export class TokenVersions {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly db: Queryable, private readonly clock: Clock) {}

  /** The customer's current version (0 for an unknown customer: nothing to revoke). */
  async current(customerId: string): Promise<number> {
    const entry = this.entries.get(customerId);
    const nowMs = this.clock.nowMs();
    if (entry !== undefined && nowMs - entry.readAtMs < limits.tokenVersionCacheMs) {
      return entry.version;
    }
    const { rows } = await this.db.query<{ token_version: number }>(
      'SELECT token_version FROM customers WHERE customer_id = $1', [customerId]);
    const version = rows[0]?.token_version ?? 0;
    this.remember(customerId, version, nowMs);
    return version;
  }

  /** Revokes every token the customer holds; returns the new version. */
  async revokeAll(customerId: string): Promise<number> {
    const { rows } = await this.db.query<{ token_version: number }>(
      `UPDATE customers SET token_version = token_version + 1 WHERE customer_id = $1
       RETURNING token_version`, [customerId]);
    const version = rows[0]?.token_version ?? 0;
    this.remember(customerId, version, this.clock.nowMs());
    return version;
  }

  private remember(customerId: string, version: number, nowMs: number): void {
    this.entries.delete(customerId);
    this.entries.set(customerId, { version, readAtMs: nowMs });
    // Insertion order: the first key is the entry read longest ago.
    while (this.entries.size > limits.tokenVersionCacheEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
