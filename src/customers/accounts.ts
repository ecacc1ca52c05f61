/** Customer accounts: registration and login. */
import { DomainError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { sqlState, type Queryable } from '../storage/index.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import type { LoginInput, RegisterInput } from './schemas.js';

/** Registers a customer; email_taken when the address (case-insensitively) exists. */
export async function registerCustomer(db: Queryable, input: RegisterInput): Promise<string> {
  const customerId = newId();
  const passwordHash = await hashPassword(input.password);
  try {
    await db.query(
      'INSERT INTO customers (customer_id, email, name, password_hash) VALUES ($1, $2, $3, $4)',
      [customerId, input.email, input.name, passwordHash],
    );
  } catch (error) {
    if (sqlState(error) === '23505') {
      throw new DomainError('email_taken', 'an account with this email exists');
    }
    throw error;
  }
  return customerId;
}

/**
 * Checks credentials; invalid_credentials for an unknown email or a wrong password alike.
 * Returns the customer and their token version (tokens are issued at it).
 */
export async function authenticateCustomer(
  db: Queryable, input: LoginInput,
): Promise<{ customerId: string; tokenVersion: number }> {
  const { rows } = await db.query<{ customer_id: string; password_hash: string;
    token_version: number }>(
    `SELECT customer_id, password_hash, token_version FROM customers
      WHERE lower(email) = lower($1)`,
    [input.email],
  );
  const row = rows[0];
  const ok = await verifyPassword(input.password, row?.password_hash ?? (await decoyHash()));
  if (row === undefined || !ok) throw new DomainError('invalid_credentials');
  return { customerId: row.customer_id, tokenVersion: row.token_version };
}

/** One account of a bulk import. */
export interface BulkCustomer {
  email: string;
  name: string;
}

/**
 * Creates many accounts sharing one password, hashing it once: for imports (a fan club, a
 * load test) where 100,000 scrypt runs would take minutes of CPU. Existing emails are
 * skipped, not overwritten. Returns the ids of the accounts created, by email.
 */
export async function registerCustomersInBulk(
  db: Queryable, password: string, customers: readonly BulkCustomer[],
): Promise<Map<string, string>> {
  const passwordHash = await hashPassword(password);
  const ids = customers.map(() => newId());
  const { rows } = await db.query<{ customer_id: string; email: string }>(
    `INSERT INTO customers (customer_id, email, name, password_hash)
     SELECT id, email, name, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS c(id, email, name)
     ON CONFLICT DO NOTHING
     RETURNING customer_id, email`,
    [ids, customers.map((c) => c.email), customers.map((c) => c.name), passwordHash],
  );
  return new Map(rows.map((row) => [row.email, row.customer_id]));
}
