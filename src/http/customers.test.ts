/** Registration, login and customer tokens over HTTP, on both backends. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestContext } from '../testing/context.js';
import { buildApp } from './app.js';
import type { App } from './types.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`customers over HTTP on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    const logLines: string[] = [];

    beforeAll(async () => {
      db = await backend.open();
      const sink = new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      });
      // Log everything, requests included, to prove passwords never reach the log.
      app = await buildApp({ ...buildTestContext(db), logger: pino({ level: 'trace' }, sink) });
      await app.ready();
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    const register = (payload: object) =>
      app.inject({ method: 'POST', url: '/api/v1/customers', payload });
    const login = (payload: object) =>
      app.inject({ method: 'POST', url: '/api/v1/sessions', payload });

    it('registers, logs in and authenticates with the returned token', async () => {
      const created = await register({
        email: 'Ana@Example.com', name: 'Ana', password: 'a long passphrase',
      });
      expect(created.statusCode).toBe(201);
      const { customerId, token } = created.json();
      expect(customerId).toMatch(/^[0-9a-f-]{36}$/);
      expect(token).toMatch(/^c1\./);
      const session = await login({ email: 'ana@example.COM', password: 'a long passphrase' });
      expect(session.statusCode).toBe(200);
      expect(session.json().customerId).toBe(customerId);
    });

    it('refuses a second account for the same email in any case', async () => {
      const again = await register({ email: 'ANA@example.com', name: 'Imposter',
        password: 'another passphrase' });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('email_taken');
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
      expect(rows[0]?.n).toBe(1);
    });

    it('registers exactly one account under a race on one email', async () => {
      const responses = await Promise.all(Array.from({ length: 10 }, () => register({
        email: 'race@example.com', name: 'Racer', password: 'racing passphrase',
      })));
      const statuses = responses.map((r) => r.statusCode).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    });

    it('answers a wrong password and an unknown email the same way', async () => {
      const wrong = await login({ email: 'ana@example.com', password: 'not the passphrase' });
      const unknown = await login({ email: 'nobody@example.com', password: 'a long passphrase' });
      for (const response of [wrong, unknown]) {
        expect(response.statusCode).toBe(401);
        expect(response.json().code).toBe('invalid_credentials');
      }
      expect(wrong.json().detail).toBe(unknown.json().detail);
    });

    it.each([
      [{ email: 'not-an-email', name: 'X', password: 'long enough' }, '/email'],
      [{ email: 'x@example.com', name: 'X', password: 'short' }, '/password'],
      [{ email: 'x@example.com', name: '', password: 'long enough' }, '/name'],
      [{ email: 'x@example.com', password: 'long enough' }, '/name'],
      [{ email: 'x@example.com', name: 'X', password: 'long enough', admin: true }, '/admin'],
      [{ email: 'x@example.com', name: 'X', password: 12345678 }, '/password'],
    ])('rejects registration %o at %s and writes nothing', async (payload, field) => {
      const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
      const response = await register(payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].field).toBe(field);
      const after = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
      expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
    });

    it('bulk-registers accounts for admins, hashing once, skipping existing emails', async () => {
      const customers = Array.from({ length: 500 }, (_, i) => ({
        email: `bulk-${i}@example.com`, name: `Bulk ${i}`,
      }));
      customers.push({ email: 'ANA@example.com', name: 'Existing' });
      const denied = await app.inject({
        method: 'POST', url: '/api/v1/admin/customers/bulk',
        payload: { password: 'shared passphrase', customers },
      });
      expect(denied.statusCode).toBe(401);
      const created = await app.inject({
        method: 'POST', url: '/api/v1/admin/customers/bulk', headers: adminHeaders,
        payload: { password: 'shared passphrase', customers },
      });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body.data).toHaveLength(500);
      expect(body.skipped).toBe(1);
      const session = await login({ email: 'bulk-123@example.com', password: 'shared passphrase' });
      expect(session.statusCode).toBe(200);
      const token = body.data.find((c: { email: string }) => c.email === 'bulk-123@example.com');
      expect(session.json().customerId).toBe(token.customerId);
      const tooMany = await app.inject({
        method: 'POST', url: '/api/v1/admin/customers/bulk', headers: adminHeaders,
        payload: { password: 'shared passphrase', customers: Array.from({ length: 1001 },
          (_, i) => ({ email: `x${i}@example.com`, name: 'X' })) },
      });
      expect(tooMany.statusCode).toBe(400);
    });

    it('never writes a password to the log', () => {
      const log = logLines.join('');
      expect(log.length).toBeGreaterThan(0);
      expect(log).not.toContain('a long passphrase');
      expect(log).not.toContain('racing passphrase');
      expect(log).not.toContain('shared passphrase');
    });
  });
}
