import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords.js';
import { CustomerTokens, secretsEqual } from './tokens.js';

describe('passwords', () => {
  it('verifies the right password and rejects others', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(hash.startsWith('scrypt$')).toBe(true);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });
});

describe('customer tokens', () => {
  const secret = 'a-secret-of-enough-length';
  let nowMs = Date.UTC(2030, 0, 1);
  const tokens = new CustomerTokens(secret, () => nowMs);

  it('round-trips the customer id', () => {
    expect(tokens.verify(tokens.issue('cust-1'))).toBe('cust-1');
  });

  it('rejects tampered payloads, foreign keys, garbage and expired tokens', () => {
    const token = tokens.issue('cust-1');
    const [prefix, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'cust-2', exp: 4_000_000_000 }))
      .toString('base64url');
    expect(tokens.verify(`${prefix}.${forged}.${mac}`)).toBeUndefined();
    expect(tokens.verify(`${prefix}.${payload}.${mac.slice(0, -2)}`)).toBeUndefined();
    const other = new CustomerTokens('another-secret-of-length', () => nowMs);
    expect(tokens.verify(other.issue('cust-1'))).toBeUndefined();
    for (const junk of ['', 'c1', 'c1..', 'x.y.z', 'c1.e30.', `c2.${payload}.${mac}`]) {
      expect(tokens.verify(junk)).toBeUndefined();
    }
    nowMs += 31 * 24 * 3600 * 1000;
    expect(tokens.verify(token)).toBeUndefined();
  });

  it('remembers a verified token, still honouring its expiry', () => {
    let clockMs = Date.UTC(2030, 0, 1);
    const node = new CustomerTokens(secret, () => clockMs, 2);
    const token = node.issue('cust-1', 3);
    expect(node.verifyClaims(token)).toMatchObject({ customerId: 'cust-1', version: 3 });
    expect(node.rememberedCount).toBe(1);
    // Answered from memory, and still the same claims.
    expect(node.verifyClaims(token)).toMatchObject({ customerId: 'cust-1', version: 3 });
    // A tampered copy of a remembered token is checked on its own and refused.
    const [prefix, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'cust-2', exp: 4_000_000_000, ver: 3 }))
      .toString('base64url');
    expect(node.verifyClaims(`${prefix}.${forged}.${mac}`)).toBeUndefined();
    expect(node.verifyClaims(`${prefix}.${payload}.${mac.slice(0, -2)}`)).toBeUndefined();
    expect(node.rememberedCount).toBe(1); // refused tokens are never remembered
    // Bounded: the earliest verified is dropped first.
    node.verifyClaims(node.issue('cust-2'));
    node.verifyClaims(node.issue('cust-3'));
    expect(node.rememberedCount).toBe(2);
    // A remembered token past its expiry is refused and forgotten.
    const late = node.issue('cust-4');
    expect(node.verifyClaims(late)?.customerId).toBe('cust-4');
    clockMs += 31 * 24 * 3600 * 1000;
    expect(node.verifyClaims(late)).toBeUndefined();
    expect(node.rememberedCount).toBe(1);
  });

  it('compares secrets of any length', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
  });
});
