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

/** Checks credentials; invalid_credentials for an unknown email or a wrong password alike. */
export async function authenticateCustomer(db: Queryable, input: LoginInput): Promise<string> {
  const { rows } = await db.query<{ customer_id: string; password_hash: string }>(
    'SELECT customer_id, password_hash FROM customers WHERE lower(email) = lower($1)',
    [input.email],
  );
  const row = rows[0];
  const ok = await verifyPassword(input.password, row?.password_hash ?? (await decoyHash));
  if (row === undefined || !ok) throw new DomainError('invalid_credentials');
  return row.customer_id;
}
