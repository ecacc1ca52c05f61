/**
 * Password guessing and hashing floods: failed logins are throttled per e-mail address
 * (about ten, then 429 with Retry-After) without locking other accounts out, concurrent
 * guesses cannot slip past the throttle, scrypt runs are bounded per process, and logins
 * and registrations have a per-address budget of their own.
 */
import { describe, expect, it } from 'vitest';
import { Bulkhead } from '../core/bulkhead.js';
import type { App } from '../http/types.js';
import { appsPerTest } from '../testing/apps.js';
import { buildCustomer } from '../testing/factories.js';
import { passwordHashesInFlight } from './passwords.js';

describe('login throttling', () => {
  const appWith = appsPerTest();

  const login = (app: App, email: string, password: string) => app.inject({
    method: 'POST', url: '/api/v1/sessions', payload: { email, password } });

  it('stops guessing one account after about ten tries; others still log in', async () => {
    const { app, ctx } = await appWith();
    const victim = await buildCustomer(ctx);
    const bystander = await buildCustomer(ctx);
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await login(app, victim.email, `guess number ${i}`)).statusCode);
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    // Even the right password is not checked now: a correct guess would leak otherwise.
    const right = await login(app, victim.email.toUpperCase(), victim.password);
    expect(right.statusCode).toBe(429);
    expect(right.json().code).toBe('rate_limited');
    expect(Number(right.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const other = await login(app, bystander.email, bystander.password);
    expect(other.statusCode).toBe(200);
  });

  it('lets no more than the allowance through when guesses arrive at once', async () => {
    const { app, ctx } = await appWith();
    const victim = await buildCustomer(ctx);
    const replies = await Promise.all(Array.from({ length: 40 },
      (_, i) => login(app, victim.email, `parallel guess ${i}`)));
    const counted = (status: number) => replies.filter((r) => r.statusCode === status).length;
    expect(counted(401)).toBe(10);
    expect(counted(429)).toBe(30);
  });

  it('bounds concurrent password hashing per process', async () => {
    const { app } = await appWith();
    let most = 0;
    let done = false;
    const sample = async () => {
      while (!done) {
        most = Math.max(most, passwordHashesInFlight());
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const sampling = sample();
    const replies = await Promise.all(Array.from({ length: 12 },
      (_, i) => login(app, `nobody-${i}@example.com`, 'some password')));
    done = true;
    await sampling;
    expect(replies.every((r) => r.statusCode === 401)).toBe(true);
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);
  });

  it('limits logins and registrations per address', async () => {
    const { app } = await appWith({ RATE_LIMIT_AUTH_PER_IP: '3' });
    const register = (i: number) => app.inject({ method: 'POST', url: '/api/v1/customers',
      payload: { email: `box-${i}@example.com`, name: 'Box Office', password: 'long enough' } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await register(i)).statusCode);
    expect(statuses).toEqual([201, 201, 201, 429]);
  });
});

describe('Bulkhead', () => {
  it('runs at most its concurrency, queues a bounded number, refuses the rest', async () => {
    const bulkhead = new Bulkhead(2, 1);
    const gates: (() => void)[] = [];
    const task = () => bulkhead.run(() => new Promise<void>((resolve) => gates.push(resolve)));
    const running = [task(), task(), task()];
    await expect(task()).rejects.toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(bulkhead.inFlight).toBe(2);
    expect(bulkhead.queued).toBe(1);
    let settled = false;
    const all = Promise.all(running).then(() => {
      settled = true;
    });
    while (!settled) {
      // Release whatever is running; a queued task takes the freed slot and runs next.
      for (const release of gates.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await all;
    await Promise.all(running);
    expect(bulkhead.inFlight).toBe(0);
  });
});
