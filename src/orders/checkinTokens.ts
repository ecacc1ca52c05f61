/**
 * Check-in tokens: a credential for door staff that can do one thing, check tickets in at
 * one event's door (and read that door's tally). The organizer creates them (one per device
 * or shift, with a label), lists them and revokes them; the admin token never has to leave
 * the office. A token is `d1.<payload>.<mac>`: HMAC-SHA256 under a key derived from the
 * server secret for this purpose only, over `{tid, eid, exp}`; the row decides revocation.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import { deriveKey } from '../customers/tokens.js';
import type { Queryable } from '../storage/index.js';
import type { CheckinToken, CheckinTokenInput } from './schemas.js';

const prefix = 'd1';

interface Claims {
  tid: string;
  eid: string;
  exp: number;
}

/** Signs and reads check-in tokens (no I/O). */
export class CheckinTokenSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = deriveKey(secret, 'checkin-token');
  }

  sign(claims: Claims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${prefix}.${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The claims of a well-signed token (expired or not); undefined for anything else. */
  read(token: string): Claims | undefined {
    const [head, payload = '', signature = '', ...rest] = token.split('.');
    if (head !== prefix || rest.length > 0) return undefined;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
      const ok = typeof claims.tid === 'string' && typeof claims.eid === 'string'
        && typeof claims.exp === 'number';
      return ok ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${prefix}.${payload}`).digest();
  }
}

interface Row {
  token_id: string; event_id: string; label: string; created_at: Date; expires_at: Date;
  revoked_at: Date | null;
}

function toView(row: Row): CheckinToken {
  return {
    tokenId: row.token_id, eventId: row.event_id, label: row.label,
    createdAt: row.created_at.toISOString(), expiresAt: row.expires_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** Creates a check-in token for an event; the token itself is shown only in this reply. */
export async function createCheckinToken(
  db: Queryable, signer: CheckinTokenSigner, eventId: string, input: CheckinTokenInput,
): Promise<CheckinToken & { token: string }> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const tokenId = newId();
  const { rows } = await db.query<Row>(
    `INSERT INTO checkin_tokens (token_id, event_id, label, expires_at)
     SELECT $1, e.event_id, $3, now() + make_interval(hours => $4)
       FROM events e WHERE e.event_id = $2
     RETURNING token_id, event_id, label, created_at, expires_at, revoked_at`,
    [tokenId, eventId, input.label ?? 'door', input.validHours ?? 48],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no event ${eventId}`);
  const token = signer.sign({ tid: tokenId, eid: eventId, exp: row.expires_at.getTime() });
  return { ...toView(row), token };
}

/** An event's check-in tokens, newest first (without the tokens themselves). */
export async function listCheckinTokens(db: Queryable, eventId: string): Promise<CheckinToken[]> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const { rows } = await db.query<Row>(
    `SELECT token_id, event_id, label, created_at, expires_at, revoked_at FROM checkin_tokens
      WHERE event_id = $1 ORDER BY created_at DESC LIMIT 200`,
    [eventId],
  );
  return rows.map(toView);
}

/** Revokes a check-in token at once; revoking twice is a no-op. */
export async function revokeCheckinToken(
  db: Queryable, eventId: string, tokenId: string,
): Promise<void> {
  if (!isUuid(eventId) || !isUuid(tokenId)) throw new DomainError('not_found', 'no such token');
  const { rowCount } = await db.query(
    `UPDATE checkin_tokens SET revoked_at = coalesce(revoked_at, now())
      WHERE token_id = $1 AND event_id = $2`,
    [tokenId, eventId],
  );
  if (rowCount !== 1) throw new DomainError('not_found', 'no such token');
}

/**
 * What a presented check-in token may do at `eventId`: 'ok' when it is signed, for this
 * event, unexpired (database clock) and not revoked; 'elsewhere' for a genuine token of
 * another event; 'invalid' for anything else.
 */
export async function checkCheckinToken(
  db: Queryable, signer: CheckinTokenSigner, token: string, eventId: string, clock: Clock,
): Promise<'ok' | 'elsewhere' | 'invalid'> {
  const claims = signer.read(token);
  if (claims === undefined || claims.exp <= clock.nowMs() - 60_000) return 'invalid';
  if (claims.eid !== eventId) return 'elsewhere';
  const { rows } = await db.query<{ live: boolean }>(
    `SELECT revoked_at IS NULL AND expires_at > now() AS live FROM checkin_tokens
      WHERE token_id = $1 AND event_id = $2`,
    [claims.tid, claims.eid],
  );
  return rows[0]?.live === true ? 'ok' : 'invalid';
}
