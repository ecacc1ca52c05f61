/**
 * A node for the crash test (orders/crash.test.ts), run as its own process on a test
 * database: `serve <databaseUrl> [after|before]` runs the API with the simulated gateway
 * (books in the database, as a real provider keeps its own) and, right after a charge has
 * been taken (`after`, the default) or right before it is sent, once the payment and its
 * reference are written (`before`), tells the parent and freezes so the parent can SIGKILL
 * it there; `reconcile <databaseUrl>` is a fresh node running one reconciliation pass, then
 * exits.
 */
import type { CheckoutSeams } from '../orders/settle.js';
import { reconcilePayments } from '../orders/reconcile.js';
import { bookingDeps } from '../orders/workers.js';
import { createPostgresDb } from '../storage/postgres.js';
import { buildTestApp } from './context.js';
import { installTestGateway } from './payments.js';

const [mode, url, point = 'after'] = process.argv.slice(2);
if (url === undefined || (mode !== 'serve' && mode !== 'reconcile')
  || (point !== 'after' && point !== 'before')) {
  throw new Error('usage: crashChild serve|reconcile <databaseUrl> [after|before]');
}
const send = (message: object): void => {
  if (process.send === undefined) throw new Error('crashChild runs with an IPC channel');
  process.send(message);
};
const db = createPostgresDb({
  url, poolMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000, lockTimeoutMs: 10_000,
  idleInTransactionTimeoutMs: 30_000,
});
const seams: CheckoutSeams = {};
const { app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' }, seams });
const gateway = installTestGateway(app, ctx);

if (mode === 'serve') {
  const freeze = (): void => {
    send(point === 'after' ? { charged: true } : { charging: true });
    // Freeze the whole process (no timer, no I/O, no settle) until the parent kills it.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  };
  if (point === 'after') seams.afterCharge = freeze;
  else seams.beforeCharge = freeze;
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  send({ base });
} else {
  const touched = await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
  send({ touched });
  await gateway.close();
  await app.close();
  await db.close();
}
